"""Test collections: a corpus, a query set and qrels (BEIR folders, SMART files)."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

import pandas as pd

from rankwright.data.readers.common import SOURCE_ROW, finalize_pairs
from rankwright.data.readers.jsonl import iter_jsonl
from rankwright.data.readers.smart import looks_like_smart, parse_smart, smart_id, smart_texts
from rankwright.data.readers.trec import GRADE, qrels_header, read_qrels
from rankwright.data.records import (
    DOC,
    DOC_ID,
    EVALUATION_ONLY,
    LABEL,
    QUERY,
    QUERY_ID,
    DataError,
    DropReport,
    RelevanceData,
)

log = logging.getLogger(__name__)


def pairs_from_qrels(
    qrels: pd.DataFrame,
    queries: dict[str, str],
    corpus: dict[str, str],
    report: DropReport,
    *,
    textless: Collection[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Judged pairs with their texts, and the judgments on a document in ``textless``
    (left out of the corpus for having no text), kept for evaluation only and counted
    in ``report.evaluation_only``. Judgments naming an unknown query or document are
    counted drops; a DataError if no pair is left."""
    known_q = qrels[QUERY_ID].isin(queries)
    no_text = known_q & qrels[DOC_ID].isin(textless)
    known_d = qrels[DOC_ID].isin(corpus)
    for reason, mask, column in (
        ("qrels query not in the query file", ~known_q, QUERY_ID),
        ("qrels document not in the corpus", known_q & ~no_text & ~known_d, DOC_ID),
    ):
        if mask.any():
            report.drop(reason, int(mask.sum()), example=f"{column} {qrels.loc[mask, column].iloc[0]!r}")
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
    pairs = finalize_pairs(frame, report)
    if pairs.empty:
        why = "; ".join(f"{r}: {n} (e.g. {report.examples[r][0]})" for r, n in report.dropped.items())
        hint = "name a known query and document: do the ids match?" if kept.empty else "could be used:"
        if no_text.any():
            why += f"{'; ' if why else ''}{int(no_text.sum())} on documents without text"
        raise DataError(report.source, f"none of the {len(qrels)} judgments {hint} {why}")
    textless_judged = qrels[no_text]
    eval_only = pd.DataFrame(
        {
            QUERY_ID: textless_judged[QUERY_ID].to_numpy(),
            DOC_ID: textless_judged[DOC_ID].to_numpy(),
            LABEL: textless_judged[GRADE].to_numpy(),
            SOURCE_ROW: textless_judged.index.to_numpy() + 1,
        }
    )
    if len(eval_only):
        report.evaluation_only += len(eval_only)
        example = f"query {eval_only[QUERY_ID].iloc[0]!r}, document {eval_only[DOC_ID].iloc[0]!r}"
        report.notes.append(f"{len(eval_only)} {EVALUATION_ONLY}, e.g. {example}")
    return pairs, eval_only


def _read_beir_texts(
    path: Path, what: str, fields: tuple[str, ...], required: tuple[str, ...], report: DropReport
) -> dict[str, str]:
    """``_id`` -> the non-empty ``fields`` joined with newlines, for one BEIR JSONL file.

    A repeated ``_id`` is a DataError naming both lines, unless the text is the same,
    when the repeat is merged and noted in ``report.notes``."""
    texts: dict[str, str] = {}
    first_line: dict[str, int] = {}
    merged = 0
    for lineno, obj in iter_jsonl(path):
        missing = [k for k in required if k not in obj]
        if missing:
            raise DataError(str(path), f"{what} record has no {missing[0]!r}", line=lineno)
        rid = str(obj["_id"])
        text = "\n".join(part for part in (str(obj.get(k) or "").strip() for k in fields) if part)
        if rid in texts:
            if texts[rid] != text:
                raise DataError(
                    str(path), f"duplicate {what} id {rid!r} (first at line {first_line[rid]})", line=lineno
                )
            merged += 1
            continue
        texts[rid], first_line[rid] = text, lineno
    if merged:
        report.notes.append(f"{path.name}: {merged} identical repeated {what} record(s) merged")
    return texts


def read_beir(folder: str | Path, split: str = "test") -> RelevanceData:
    """A BEIR folder: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
    (``_id``, ``text``) and ``qrels/<split>.tsv`` (with a header line).

    A repeated ``_id`` with a different text is a DataError; an identical repeat is
    merged and noted in ``report.notes``. Documents whose title and text are both empty
    are left out of the corpus (noted), and judgments on them are counted drops ("qrels
    document has no text"). No documents with text, no queries, or no usable judgment
    is a DataError.
    """
    folder = Path(folder)
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for needed in (corpus_path, queries_path, qrels_path):
        if not needed.exists():
            raise DataError(str(folder), f"not a BEIR folder: {needed.name} is missing ({needed})")
    return read_collection(corpus_path, queries_path, qrels_path, fmt="beir")


def _read_tsv_queries(path: Path) -> dict[str, str]:
    """``id<TAB>text`` lines (MS MARCO style)."""
    queries: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            qid, sep, text = line.rstrip("\r\n").partition("\t")
            if not sep:
                raise DataError(str(path), "a query line is 'id<TAB>text'; no tab found", line=lineno)
            if qid in queries:
                raise DataError(str(path), f"duplicate query id {qid!r}", line=lineno)
            queries[qid] = text.strip()
    return queries


def read_collection(
    corpus_path: str | Path, queries_path: str | Path, qrels_path: str | Path, *, fmt: str = "collection"
) -> RelevanceData:
    """A corpus (BEIR JSONL: ``_id``, ``title``, ``text``), queries (BEIR JSONL, or
    ``id<TAB>text`` lines in a .tsv/.txt file) and qrels (TREC 4 columns, or 3 columns
    with or without a header line such as BEIR's)."""
    corpus_path, queries_path, qrels_path = Path(corpus_path), Path(queries_path), Path(qrels_path)
    for needed in (corpus_path, queries_path, qrels_path):
        if not needed.is_file():
            raise DataError(str(needed), "does not exist")
    report = DropReport(source=str(qrels_path))
    texts = _read_beir_texts(corpus_path, "document", ("title", "text"), ("_id",), report)
    corpus = {d: t for d, t in texts.items() if t}
    textless = set(texts) - set(corpus)
    if not corpus:
        raise DataError(str(corpus_path), f"no documents ({len(texts)} records, none with a title or text)")
    if textless:
        report.notes.append(
            f"{corpus_path.name}: {len(textless)} empty document(s) (no title or text) left out of the corpus,"
            f" e.g. {min(textless)!r}"
        )
    if queries_path.suffix.lower() in (".tsv", ".txt"):
        queries = _read_tsv_queries(queries_path)
    else:
        queries = _read_beir_texts(queries_path, "query", ("text",), ("_id", "text"), report)
    if not queries:
        raise DataError(str(queries_path), "no queries")
    qrels = read_qrels(qrels_path, skip_header=qrels_header(qrels_path))
    report.rows_in = len(qrels)
    pairs, eval_only = pairs_from_qrels(qrels, queries, corpus, report, textless=textless)
    judged = set(qrels[QUERY_ID])
    unjudged = [q for q in queries if q not in judged]
    if unjudged:  # usual in BEIR: one queries file for every split, a qrels file per split
        report.notes.append(
            f"{queries_path.name}: {len(unjudged)} of {len(queries)} queries have no judgment in {qrels_path.name} "
            f"and are left out, e.g. {unjudged[0]!r}"
        )
    return RelevanceData(pairs, report, corpus, {q: t for q, t in queries.items() if q in judged}, fmt, eval_only)


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
    numbers skip values), ``auto`` picks whichever matches the qrels' query ids.

    A repeated ``.I`` id, a document file without records or without text in
    ``doc_fields``, or no usable judgment is a DataError. Documents without text are
    left out of the corpus (Cranfield has two), so nothing retrieves, trains on or
    scores them; judgments on them are kept for evaluation only (``eval_only``).
    """
    fields = doc_fields or ["T", "W"]
    texts = {smart_id(i): t for i, t in smart_texts(parse_smart(docs_path), fields).items()}
    corpus = {d: t for d, t in texts.items() if t.strip()}
    if not corpus:
        raise DataError(str(docs_path), f"no documents: none of the {len(texts)} records has text in fields {fields}")
    textless = set(texts) - set(corpus)
    query_records = parse_smart(queries_path)
    qrels = read_qrels(qrels_path)
    qrels[QUERY_ID] = qrels[QUERY_ID].map(smart_id)
    qrels[DOC_ID] = qrels[DOC_ID].map(smart_id)
    by_id = {smart_id(i): f.get("W", "") for i, f in query_records}
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
    if textless:
        report.notes.append(
            f"{Path(docs_path).name}: {len(textless)} document(s) without text in fields {fields} left out of the "
            f"corpus, e.g. {min(textless)!r}"
        )
    pairs, eval_only = pairs_from_qrels(qrels, queries, corpus, report, textless=textless)
    return RelevanceData(pairs, report, corpus, queries, "smart", eval_only)
