"""Checks shared by every reader: missing values, ids, duplicates, drop accounting."""

from __future__ import annotations

import hashlib
import logging
import unicodedata

import numpy as np
import pandas as pd

from rankwright.data.records import DOC, DOC_ID, LABEL, QUERY, QUERY_ID, DataError, DropReport

log = logging.getLogger(__name__)

#: The input line (JSONL, TREC, SMART) or 1-based data row (tables) a pair came from.
SOURCE_ROW = "source_row"

DUPLICATE_POLICIES = ("drop", "error", "max", "mean", "first")


#: Characters that change no word a person reads: zero-width space, non-joiner and
#: joiner, word joiner, zero-width no-break space (BOM) and soft hyphen.
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def normalize_query(text: str) -> str:
    """The key used to decide that two queries are the same one (splits, leakage):
    NFKC, Unicode case folding (``straße`` = ``STRASSE``), invisible characters
    removed, runs of whitespace as one space, no space at either end."""
    folded = unicodedata.normalize("NFKC", str(text)).translate(INVISIBLE).casefold()
    return " ".join(unicodedata.normalize("NFKC", folded).split())


def stable_id(prefix: str, text: str) -> str:
    """An id derived from the text alone, identical on every machine and Python."""
    return prefix + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _fill_ids(df: pd.DataFrame, column: str, text: str, prefix: str) -> int:
    """Give rows without an id in ``column`` the :func:`stable_id` of their ``text``;
    returns how many distinct texts got one."""
    missing = _blank(df[column]) if column in df else pd.Series(True, index=df.index)
    if missing.any():
        filled = [stable_id(prefix, t) for t in df.loc[missing, text]]
        df[column] = df[column].astype(object) if column in df else None
        df.loc[missing, column] = filled
    df[column] = df[column].astype(str)
    return int(df.loc[missing, text].nunique())


def no_repeated_scores(frame: pd.DataFrame, source: str, key: str = QUERY_ID) -> None:
    """A score table (``key``, doc_id, score) gives each pair one score: a DataError
    naming the rows (1-based, in file order) of the first pair given twice."""
    dup = frame.duplicated([key, DOC_ID], keep=False).to_numpy()
    if not dup.any():
        return
    first = np.flatnonzero(dup)[0]
    query, doc = frame[key].iloc[first], frame[DOC_ID].iloc[first]
    same = np.flatnonzero(((frame[key] == query) & (frame[DOC_ID] == doc)).to_numpy()) + 1
    raise DataError(
        source,
        f"{key} {query} and document {doc} are scored more than once (rows {', '.join(map(str, same[:5]))}): "
        "give each pair one score",
        row=int(same[1]),
    )


def truncate_words(text: str, n_words: int) -> str:
    """``text`` cut to its first ``n_words`` whitespace-separated words."""
    words = text.split()
    return text if len(words) <= n_words else " ".join(words[:n_words])


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | series.astype(str).str.strip().eq("")


def finalize_pairs(
    df: pd.DataFrame,
    report: DropReport,
    *,
    on_duplicate: str = "drop",
) -> pd.DataFrame:
    """Drop unusable rows (counted in ``report``), fill missing ids, resolve duplicates.

    ``df`` has at least query, doc, label and :data:`SOURCE_ROW`; query_id/doc_id are
    optional. Rows with an empty query or document or a missing label are dropped;
    repeated (query, doc) pairs with the same label are merged; pairs with
    conflicting labels follow ``on_duplicate``: ``drop`` (all of them, counted),
    ``error``, ``max``, ``mean`` (numeric labels) or ``first``.
    """
    if on_duplicate not in DUPLICATE_POLICIES:
        raise ValueError(f"on_duplicate must be one of {DUPLICATE_POLICIES}, got {on_duplicate!r}")
    df = df.copy()
    for reason, column in (("empty query", QUERY), ("empty document", DOC), ("missing label (NaN or empty)", LABEL)):
        mask = _blank(df[column])
        if mask.any():
            first = df.loc[mask, SOURCE_ROW].iloc[0]
            report.drop(reason, int(mask.sum()), example=f"{report.source}: row {first}")
            df = df[~mask]
    df[QUERY] = df[QUERY].astype(str).str.strip()
    df[DOC] = df[DOC].astype(str).str.strip()
    hashed = _fill_ids(df, QUERY_ID, QUERY, "q")
    if hashed:
        queries = "query" if hashed == 1 else "queries"
        note = f"{hashed} {queries} had no query id; ids are hashes of the query text (q + 12 hex digits of its SHA-1)"
        log.info("data: %s: %s", report.source, note)
        report.notes.append(note)
    _fill_ids(df, DOC_ID, DOC, "d")
    _one_text_per_id(df, report)
    df = _resolve_duplicates(df, report, on_duplicate)
    return df.reset_index(drop=True)


def _one_text_per_id(df: pd.DataFrame, report: DropReport) -> None:
    """A query or document id given with different texts keeps its first row's text in
    every row (so training, BM25, mining and scoring all see one text per id); how many
    ids and rows, with an example, goes in the report's notes and the log."""
    for id_col, text_col, kind in ((QUERY_ID, QUERY, "query"), (DOC_ID, DOC, "document")):
        first = df.groupby(id_col, sort=False)[text_col].transform("first")
        changed = df[text_col] != first
        if not changed.any():
            continue
        example = df.loc[changed].iloc[0]
        original = df.loc[(df[id_col] == example[id_col]) & ~changed].iloc[0]
        ids, rows = int(df.loc[changed, id_col].nunique()), int(changed.sum())
        note = (
            f"{ids} {kind} id(s) are given with more than one text ({rows} row(s) changed); each id keeps the "
            f"text of its first row, e.g. {kind} id {example[id_col]!r}: row {original[SOURCE_ROW]} "
            f"{_short(original[text_col])!r}, row {example[SOURCE_ROW]} {_short(example[text_col])!r}"
        )
        log.warning("data: %s: %s", report.source, note)
        report.notes.append(note)
        df[text_col] = first


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _resolve_duplicates(df: pd.DataFrame, report: DropReport, policy: str) -> pd.DataFrame:
    key = [QUERY_ID, DOC_ID]
    dup = df.duplicated(key, keep=False)
    if not dup.any():
        return df
    groups = df[dup].groupby(key, sort=False)[LABEL]
    n_labels = groups.transform(lambda s: s.astype(str).nunique())
    conflicting_idx = n_labels[n_labels > 1].index
    same = df.loc[dup].drop(conflicting_idx)
    # Identical repeats: keep the first, count the rest.
    extra = same.duplicated(key, keep="first")
    if extra.any():
        report.drop("duplicate pair (same label, merged)", int(extra.sum()))
        df = df.drop(same[extra].index)
    if len(conflicting_idx) == 0:
        return df
    conflicting = df.loc[conflicting_idx]
    row = conflicting.iloc[0]
    same_pair = conflicting[(conflicting[QUERY_ID] == row[QUERY_ID]) & (conflicting[DOC_ID] == row[DOC_ID])]
    example = (
        f"rows {sorted(same_pair[SOURCE_ROW].tolist())} give query {row[QUERY]!r} and document "
        f"{row[DOC_ID]!r} the labels {sorted(same_pair[LABEL].astype(str))}"
    )
    if policy == "error":
        raise DataError(report.source, f"duplicate (query, doc) pairs with conflicting labels: {example}")
    if policy == "drop":
        report.drop("duplicate pair with conflicting labels", len(conflicting), example=example)
        return df.drop(conflicting_idx)
    if policy in ("max", "mean"):
        values = pd.to_numeric(conflicting[LABEL], errors="coerce")
        if values.isna().any():
            raise DataError(report.source, f"on_duplicate={policy!r} needs numeric labels: {example}")
        agg = values.groupby([conflicting[QUERY_ID], conflicting[DOC_ID]]).transform(policy)
        conflicting = conflicting.assign(**{LABEL: agg})
    keep = conflicting.drop_duplicates(key, keep="first")
    report.drop(f"duplicate pair with conflicting labels ({policy})", len(conflicting) - len(keep), example=example)
    return pd.concat([df.drop(conflicting_idx), keep]).sort_index()
