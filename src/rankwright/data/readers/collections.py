"""Test collections: a corpus, a query set and qrels (BEIR folders, SMART files)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from rankwright.data.readers.common import SOURCE_ROW, finalize_pairs
from rankwright.data.readers.jsonl import iter_jsonl
from rankwright.data.readers.smart import looks_like_smart, parse_smart, smart_texts
from rankwright.data.readers.trec import GRADE, read_qrels
from rankwright.data.records import DOC, DOC_ID, LABEL, QUERY, QUERY_ID, DataError, DropReport, RelevanceData

log = logging.getLogger(__name__)


def pairs_from_qrels(
    qrels: pd.DataFrame, queries: dict[str, str], corpus: dict[str, str], report: DropReport
) -> pd.DataFrame:
    """Judged pairs with their texts; judgments naming unknown queries/documents are
    counted as drops."""
    known_q = qrels[QUERY_ID].isin(queries)
    report.drop("qrels query not in the query file", int((~known_q).sum()))
    known_d = qrels[DOC_ID].isin(corpus)
    report.drop("qrels document not in the corpus", int((known_q & ~known_d).sum()))
    kept = qrels[known_q & known_d]
    frame = pd.DataFrame(
        {
            QUERY_ID: kept[QUERY_ID].to_numpy(),
            QUERY: kept[QUERY_ID].map(queries).to_numpy(),
            DOC_ID: kept[DOC_ID].to_numpy(),
            DOC: kept[DOC_ID].map(corpus).to_numpy(),
            LABEL: kept[GRADE].to_numpy(),
            SOURCE_ROW: kept.index.to_numpy() + 1,
        }
    )
    return finalize_pairs(frame, report)


def read_beir(folder: str | Path, split: str = "test") -> RelevanceData:
    """A BEIR folder: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
    (``_id``, ``text``) and ``qrels/<split>.tsv`` (with a header line)."""
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for needed in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not needed.exists():
            raise DataError(str(folder), f"not a BEIR folder: {needed.name} is missing ({needed})")
    corpus: dict[str, str] = {}
    for lineno, obj in iter_jsonl(folder / "corpus.jsonl"):
        if "_id" not in obj:
            raise DataError(str(folder / "corpus.jsonl"), "record has no '_id'", line=lineno)
        text = "\n".join(str(obj[k]).strip() for k in ("title", "text") if obj.get(k))
        corpus[str(obj["_id"])] = text
    queries: dict[str, str] = {}
    for lineno, obj in iter_jsonl(folder / "queries.jsonl"):
        if "_id" not in obj or "text" not in obj:
            raise DataError(str(folder / "queries.jsonl"), "record needs '_id' and 'text'", line=lineno)
        queries[str(obj["_id"])] = str(obj["text"])
    qrels = read_qrels(qrels_path, skip_header=True)
    report = DropReport(source=str(qrels_path), rows_in=len(qrels))
    pairs = pairs_from_qrels(qrels, queries, corpus, report)
    judged = set(qrels[QUERY_ID])
    return RelevanceData(pairs, report, corpus, {q: t for q, t in queries.items() if q in judged}, "beir")


def find_smart_files(folder: str | Path) -> tuple[Path, Path, Path]:
    """(documents, queries, qrels) in a folder such as Cranfield's: the SMART file
    with titles (.T) is the corpus, the other SMART file the queries, and a remaining
    file of 3-4 whitespace-separated columns the qrels."""
    folder = Path(folder)
    smart = [p for p in sorted(folder.iterdir()) if p.is_file() and looks_like_smart(p)]
    if len(smart) != 2:
        raise DataError(str(folder), f"expected 2 SMART files (documents and queries), found {[p.name for p in smart]}")
    docs, queries = sorted(smart, key=lambda p: -_has_titles(p))
    qrels = [p for p in sorted(folder.iterdir()) if p.is_file() and p not in smart and _looks_like_qrels(p)]
    if len(qrels) != 1:
        raise DataError(str(folder), f"expected one qrels file beside the SMART files, found {[p.name for p in qrels]}")
    return docs, queries, qrels[0]


def _has_titles(path: Path) -> int:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return int(any(line.rstrip("\r\n") == ".T" for _, line in zip(range(200), handle, strict=False)))


def _looks_like_qrels(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [line.split() for _, line in zip(range(20), handle, strict=False) if line.strip()]
    except (UnicodeDecodeError, OSError):
        return False
    return bool(lines) and all(len(f) in (3, 4) and f[-1].lstrip("-").isdigit() for f in lines)


def read_smart_collection(
    docs_path: str | Path,
    queries_path: str | Path,
    qrels_path: str | Path,
    *,
    doc_fields: list[str] | None = None,
    query_numbering: str = "auto",
) -> RelevanceData:
    """A SMART collection. ``doc_fields`` picks the document fields (default title +
    text, ``["T", "W"]``). ``query_numbering``: ``id`` uses the ``.I`` numbers, ``order``
    numbers queries 1..n in file order (Cranfield's qrels do this while its ``.I``
    numbers skip values), ``auto`` picks whichever matches the qrels' query ids."""
    doc_records = parse_smart(docs_path)
    corpus = {
        str(int(i)) if i.isdigit() else i: t for i, t in smart_texts(doc_records, doc_fields or ["T", "W"]).items()
    }
    query_records = parse_smart(queries_path)
    qrels = read_qrels(qrels_path)
    qrels[QUERY_ID] = qrels[QUERY_ID].map(lambda q: str(int(q)) if q.isdigit() else q)
    qrels[DOC_ID] = qrels[DOC_ID].map(lambda d: str(int(d)) if d.isdigit() else d)
    by_id = {str(int(i)) if i.isdigit() else i: f.get("W", "") for i, f in query_records}
    by_order = {str(n): f.get("W", "") for n, (_, f) in enumerate(query_records, start=1)}
    numbering = query_numbering
    if numbering == "auto":
        judged = set(qrels[QUERY_ID])
        numbering = "order" if len(judged - set(by_order)) < len(judged - set(by_id)) else "id"
    if numbering not in ("id", "order"):
        raise ValueError(f"query_numbering must be 'auto', 'id' or 'order', got {query_numbering!r}")
    queries = by_order if numbering == "order" else by_id
    report = DropReport(source=str(qrels_path), rows_in=len(qrels))
    report.notes.append(f"SMART queries numbered by {'file order (1..n)' if numbering == 'order' else '.I ids'}")
    pairs = pairs_from_qrels(qrels, queries, corpus, report)
    return RelevanceData(pairs, report, corpus, queries, "smart")
