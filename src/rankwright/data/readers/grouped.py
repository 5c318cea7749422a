"""Grouped JSONL: one query with lists of positive and negative documents per line.

Three layouts are read (detected from the keys of the first line):

- ``seed002``: ``{"query_text", "positives": [{"doc_id", "text"}], "negatives": [...],
  "source_chunk", "meta"}``
- ``swift``: ``{"query", "positive": [str], "negative": [str]}``
- ``flag`` (FlagEmbedding): ``{"query", "pos": [str], "neg": [str], "pos_scores",
  "neg_scores", "prompt"}``

A list of plain texts may carry its documents' ids in a parallel list named after it
with ``_ids`` (``pos_ids``/``neg_ids``: what ``rankwright teacher-score`` writes);
``query_id`` names the query in any layout.

Every positive becomes a pair with label 1 and every negative a pair with label 0;
teacher scores (``pos_scores``/``neg_scores``) go to the ``score`` column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from rankwright.data.config import GROUPED_LAYOUTS
from rankwright.data.readers.common import SOURCE_ROW, finalize_pairs, stable_id
from rankwright.data.readers.jsonl import iter_jsonl
from rankwright.data.records import (
    DOC,
    DOC_ID,
    GROUP,
    LABEL,
    QUERY,
    SCORE,
    DataError,
    DropReport,
    RelevanceData,
)


def detect_grouped_layout(record: dict[str, Any]) -> str | None:
    for name, (query_key, pos_key, neg_key, _, _) in GROUPED_LAYOUTS.items():
        if query_key in record and (pos_key in record or neg_key in record):
            return name
    return None


def _doc_entries(value: Any, source: str, lineno: int, key: str) -> list[tuple[str | None, Any]]:
    """(doc_id or None, text) for each entry of a positives/negatives list."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataError(source, f"{key!r} must be a list, got {type(value).__name__}", line=lineno)
    entries = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            if "text" not in item:
                raise DataError(source, f"{key}[{i}] has no 'text' field (keys: {sorted(item)})", line=lineno)
            doc_id = item.get("doc_id", item.get("id"))
            entries.append((None if doc_id is None else str(doc_id), item["text"]))
        else:
            entries.append((None, item))
    return entries


def _with_ids(
    entries: list[tuple[str | None, Any]], record: dict[str, Any], key: str, source: str, lineno: int
) -> list[tuple[str | None, Any]]:
    """``entries`` with the ids of the parallel list ``<key>_ids``, when the record has one."""
    ids = record.get(f"{key}_ids")
    if ids is None:
        return entries
    if not isinstance(ids, list) or len(ids) != len(entries):
        raise DataError(source, f"'{key}_ids' must be a list of {len(entries)} ids, one per {key!r} entry", line=lineno)
    if any(doc_id is not None for doc_id, _ in entries):
        raise DataError(
            source, f"{key!r} entries carry their own doc_id: '{key}_ids' would contradict them", line=lineno
        )
    return [(str(doc_id), text) for doc_id, (_, text) in zip(ids, entries, strict=True)]


def _scores(record: dict[str, Any], key: str | None, n: int, source: str, lineno: int) -> list[float | None]:
    if key is None or record.get(key) is None:
        return [None] * n
    scores = record[key]
    if not isinstance(scores, list) or len(scores) != n:
        raise DataError(source, f"{key!r} must be a list of {n} numbers, one per document", line=lineno)
    out = []
    for i, score in enumerate(scores):
        try:
            if isinstance(score, bool | list | dict) or score is None:
                raise TypeError
            out.append(float(score))  # numbers, and numbers written as strings
        except (TypeError, ValueError):
            raise DataError(source, f"{key}[{i}] is {score!r}, not a number", line=lineno) from None
    return out


def read_grouped(path: str | Path, layout: str | None = None, *, on_duplicate: str = "drop") -> RelevanceData:
    """Read grouped JSONL (seed-002, SWIFT or FlagEmbedding layout) into pairs.

    ``rows_in`` in the report counts documents (pairs), not lines.
    """
    source = str(path)
    rows: list[dict[str, Any]] = []
    for lineno, record in iter_jsonl(path):
        name = layout or detect_grouped_layout(record)
        if name is None:
            raise DataError(source, f"keys {sorted(record)} match no grouped layout", line=lineno)
        if name not in GROUPED_LAYOUTS:
            raise DataError(source, f"unknown grouped layout {name!r}; known: {sorted(GROUPED_LAYOUTS)}")
        layout = name
        query_key, pos_key, neg_key, pos_scores, neg_scores = GROUPED_LAYOUTS[name]
        if query_key not in record:
            raise DataError(source, f"missing field {query_key!r}", line=lineno)
        known = {query_key, pos_key, neg_key, pos_scores, neg_scores, f"{pos_key}_ids", f"{neg_key}_ids"}
        extra = {k: v for k, v in record.items() if k not in known}
        meta = {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v) for k, v in extra.items()}
        for key, label, score_key in ((pos_key, 1, pos_scores), (neg_key, 0, neg_scores)):
            entries = _with_ids(_doc_entries(record.get(key), source, lineno, key), record, key, source, lineno)
            scores = _scores(record, score_key, len(entries), source, lineno)
            for (doc_id, text), score in zip(entries, scores, strict=True):
                row = {QUERY: record[query_key], DOC: text, LABEL: label, DOC_ID: doc_id, SCORE: score}
                row.update({GROUP: lineno, SOURCE_ROW: lineno, **meta})
                rows.append(row)
    if not rows:
        raise DataError(source, "no documents found")
    frame = pd.DataFrame(rows)
    missing_ids = frame[DOC_ID].isna()
    if missing_ids.any():
        frame.loc[missing_ids, DOC_ID] = [stable_id("d", str(t).strip()) for t in frame.loc[missing_ids, DOC]]
    if frame[SCORE].isna().all():
        frame = frame.drop(columns=[SCORE])
    report = DropReport(source=source, rows_in=len(frame))
    pairs = finalize_pairs(frame, report, on_duplicate=on_duplicate)
    return RelevanceData(pairs=pairs, report=report, format=f"grouped:{layout}")
