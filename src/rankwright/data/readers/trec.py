"""TREC qrels (``qid 0 docid grade`` or three columns ``qid docid grade``) and runs
(``qid Q0 docid rank score tag``)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from rankwright.data.records import DOC_ID, QUERY_ID, SCORE, DataError

GRADE = "grade"
RANK = "rank"
#: The 1-based line of the file a qrels row came from.
LINE = "line"


def _parse_number(token: str, kind: type, source: str, lineno: int, what: str) -> float | int:
    try:
        value = kind(token)
    except ValueError:
        raise DataError(source, f"{what} {token!r} is not a number", line=lineno) from None
    if kind is float and not math.isfinite(value):
        raise DataError(source, f"{what} {token!r} is not a finite number", line=lineno)
    return value


def qrels_header(path: str | Path) -> bool:
    """True when the first line is a header such as BEIR's (its last field is not a number)."""
    with open(path, encoding="utf-8") as handle:
        fields = handle.readline().split()
    try:
        float(fields[-1]) if fields else 0.0
    except ValueError:
        return True
    return False


def read_qrels(path: str | Path, *, skip_header: bool = False) -> pd.DataFrame:
    """Qrels as a frame (query_id, doc_id, grade, line).

    Four fields (``qid iter docid grade``, TREC) and three fields (``qid docid grade``,
    SMART/BEIR) are accepted; every line must have the same number of fields as the
    first. Tabs, spaces and CRLF line ends are tolerated. ``skip_header`` drops a first
    line such as BEIR's ``query-id corpus-id score``.
    """
    source = str(path)
    rows: list[tuple[str, str, float]] = []
    width: int | None = None
    with open(path, "rb") as handle:
        for lineno, line in _lines(handle, source):
            fields = line.split()
            if not fields or (skip_header and lineno == 1):
                continue
            if width is None:
                if len(fields) not in (3, 4):
                    raise DataError(
                        source,
                        f"a qrels line has 3 or 4 fields (qid [iter] docid grade), found {len(fields)}",
                        line=lineno,
                    )
                width = len(fields)
            elif len(fields) != width:
                raise DataError(
                    source, f"expected {width} fields like the first line, found {len(fields)}", line=lineno
                )
            qid, docid, grade = (fields[0], fields[1], fields[2]) if width == 3 else (fields[0], fields[2], fields[3])
            rows.append((qid, docid, _parse_number(grade, float, source, lineno, "grade"), lineno))
    if not rows:
        raise DataError(source, "no qrels lines found")
    frame = pd.DataFrame(rows, columns=[QUERY_ID, DOC_ID, GRADE, LINE])
    _no_repeats(frame, source, "judges")
    return frame


def _lines(handle, source: str):
    """(line number, text) of each line of a binary file read as UTF-8; a line that is
    not UTF-8 is a DataError naming it."""
    for lineno, raw in enumerate(handle, start=1):
        try:
            yield lineno, raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(
                source, f"is not UTF-8 ({err.reason} at byte {err.start} of the line)", line=lineno
            ) from None


def read_run(path: str | Path) -> pd.DataFrame:
    """A TREC run as a frame (query_id, doc_id, rank, score, tag); six fields a line."""
    source = str(path)
    rows = []
    with open(path, "rb") as handle:
        for lineno, line in _lines(handle, source):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 6:
                raise DataError(
                    source, f"a run line has 6 fields (qid Q0 docid rank score tag), found {len(fields)}", line=lineno
                )
            qid, _, docid, rank, score, tag = fields
            rows.append(
                (
                    qid,
                    docid,
                    _parse_number(rank, int, source, lineno, "rank"),
                    _parse_number(score, float, source, lineno, "score"),
                    tag,
                    lineno,
                )
            )
    if not rows:
        raise DataError(source, "no run lines found")
    frame = pd.DataFrame(rows, columns=[QUERY_ID, DOC_ID, RANK, SCORE, "tag", LINE])
    _no_repeats(frame, source, "lists")
    return frame.drop(columns=LINE)


def _no_repeats(frame: pd.DataFrame, source: str, verb: str) -> None:
    """A DataError naming the line of the first repeated (query, document)."""
    dup = frame.duplicated([QUERY_ID, DOC_ID])
    if dup.any():
        again = frame[dup].iloc[0]
        qid, docid = again[QUERY_ID], again[DOC_ID]
        first = frame[(frame[QUERY_ID] == qid) & (frame[DOC_ID] == docid)].iloc[0]
        raise DataError(
            source,
            f"query {qid} {verb} document {docid} more than once (lines {first[LINE]} and {again[LINE]})",
            line=int(again[LINE]),
        )


def write_run(scores: pd.DataFrame, path: str | Path, tag: str = "rankwright") -> None:
    """Write (query_id, doc_id, score) as a TREC run, ranked in trec_eval's order
    (score descending, ties by doc_id descending), so rank numbers match what
    trec_eval evaluates."""
    frame = scores[[QUERY_ID, DOC_ID, SCORE]].copy()
    # Sort on the value written (repr round-trips a float exactly), so ranks agree with trec_eval.
    frame[SCORE] = frame[SCORE].astype(float)
    frame[QUERY_ID] = frame[QUERY_ID].astype(str)
    frame[DOC_ID] = frame[DOC_ID].astype(str)
    frame = frame.sort_values([QUERY_ID, SCORE, DOC_ID], ascending=[True, False, False], kind="mergesort")
    frame[RANK] = frame.groupby(QUERY_ID).cumcount() + 1
    with open(path, "w", encoding="utf-8") as handle:
        for qid, docid, score, rank in zip(frame[QUERY_ID], frame[DOC_ID], frame[SCORE], frame[RANK], strict=True):
            handle.write(f"{qid} Q0 {docid} {rank} {float(score)!r} {tag}\n")
