"""Pointwise tables (parquet, CSV/TSV, JSONL): one judged (query, document) pair a row."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rankwright.data.config import ColumnMap, LabelConfig
from rankwright.data.readers.common import SOURCE_ROW, finalize_pairs, truncate_words
from rankwright.data.readers.delimited import SEP_FLAG, read_delimited
from rankwright.data.readers.esci import is_published_esci, read_esci
from rankwright.data.readers.jsonl import iter_jsonl
from rankwright.data.records import DOC, DOC_ID, LABEL, QUERY, QUERY_ID, DataError, DropReport, RelevanceData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Layout:
    query: str
    docs: tuple[str, ...]
    label: str
    query_id: str | None = None
    doc_id: str | None = None
    name: str | None = None  # a known data set's, said in the log
    labels: LabelConfig | None = None  # its label scheme: the label keys a user leaves unset


#: Home Depot's relevance, the mean of three raters' 1 (irrelevant) .. 3 (exact match):
#: gain = round((relevance - 1) * 12) (0..24), relevant at relevance >= 2.33 (gain 16).
HOME_DEPOT_LABELS = LabelConfig(scheme="graded", gain_offset=1, gain_scale=12, threshold=2.33, target_range=[1, 3])

#: Known layouts, recognised by their column names when no mapping is given.
LAYOUTS: dict[str, Layout] = {
    # E/S/C/I labels are recognised from their values (labels.scheme auto: gains 3/2/1/0); the
    # published ESCI tables' own KDD Cup gains come with their reader (readers/esci.py)
    "esci": Layout("query", ("item_text",), "esci_label", "query_id", "product_id"),
    "homedepot": Layout(
        "search_term", ("product_title",), "relevance", None, "product_uid", "Home Depot", HOME_DEPOT_LABELS
    ),
    "canonical": Layout("query", ("doc",), "label", "query_id", "doc_id"),
}


def read_table_file(
    path: str | Path, *, encoding: str | None = None, sep: str | None = None, sep_flag: str | None = SEP_FLAG
) -> tuple[pd.DataFrame, list[str]]:
    """Load a parquet/CSV/TSV/JSONL table (compressed CSV too); returns (frame, notes).
    ``sep``: the CSV field separator (default: tab for .tsv, else comma); a file that
    seems to use another is an error naming it and ``sep_flag``."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(str(path), "is empty (0 bytes)")
    if ".parquet" in suffixes:
        return pd.read_parquet(path), []
    if ".jsonl" in suffixes or ".ndjson" in suffixes:
        return pd.DataFrame([obj for _, obj in iter_jsonl(path)]), []
    frame, notes = read_delimited(path, sep=sep, encoding=encoding, sep_flag=sep_flag)
    return frame.replace({"": None}), notes


def detect_layout(columns: list[str]) -> Layout | None:
    cols = set(columns)
    for layout in LAYOUTS.values():
        if {layout.query, layout.label, *layout.docs} <= cols:
            return layout
    return None


def resolve_columns(columns: ColumnMap | None, present: list[str], source: str) -> ColumnMap:
    """The user's mapping completed from the recognised layout; checked against the
    columns present. Id columns named by the user must exist; a layout's are optional."""
    columns = columns or ColumnMap()
    layout = detect_layout(present) or LAYOUTS["canonical"]
    if not columns.is_set() and detect_layout(present) is None:
        raise DataError(source, _no_layout(present))
    resolved = ColumnMap(
        query=columns.query or layout.query,
        docs=list(columns.docs or layout.docs),
        label=columns.label or layout.label,
        query_id=columns.query_id or (layout.query_id if layout.query_id in present else None),
        doc_id=columns.doc_id or (layout.doc_id if layout.doc_id in present else None),
        separator=columns.separator,
        truncate_words=dict(columns.truncate_words),
        keep=list(columns.keep),
    )
    wanted = [resolved.query, resolved.label, *resolved.docs, *resolved.keep]
    wanted += [c for c in (resolved.query_id, resolved.doc_id) if c]
    missing = [c for c in wanted if c not in present]
    if missing:
        flags = [f"--data.columns.{f}" for f, c in _fields(resolved) if c in missing]
        raise DataError(
            source, f"missing column(s) {missing}; columns present: {present}; name them with {', '.join(flags)}"
        )
    return resolved


def _fields(columns: ColumnMap) -> list[tuple[str, str | None]]:
    """(setting, column) of each column a mapping names."""
    named = [("query", columns.query), ("label", columns.label), ("query_id", columns.query_id)]
    named.append(("doc_id", columns.doc_id))
    return named + [("docs", c) for c in columns.docs or []] + [("keep", c) for c in columns.keep]


def _no_layout(present: list[str]) -> str:
    """Why columns without a mapping cannot be read: a known layout's label column
    missing, or no layout at all; and the settings that name the columns."""
    for layout in LAYOUTS.values():
        if {layout.query, *layout.docs} <= set(present) and layout.label not in present:
            return (
                f"no label column: the columns {present} hold a query ({layout.query!r}) and documents "
                f"({', '.join(repr(d) for d in layout.docs)}) but no {layout.label!r}; name the label column "
                "with --data.columns.label"
            )
    known = "; ".join(
        f"{name}: {layout.query}, {', '.join(layout.docs)}, {layout.label}" for name, layout in LAYOUTS.items()
    )
    return (
        f"columns {present} match no known layout ({known}); name the query, document and label columns with "
        "--data.columns.query, --data.columns.docs and --data.columns.label"
    )


def _join_docs(frame: pd.DataFrame, columns: ColumnMap) -> pd.Series:
    parts = []
    for col in columns.docs or []:
        part = frame[col].astype("string").fillna("").str.strip()
        if col in columns.truncate_words:
            limit = int(columns.truncate_words[col])
            part = part.map(lambda t, n=limit: truncate_words(t, n))
        parts.append(part)
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.str.cat(part, sep=columns.separator).str.strip()
    return joined


def read_table(
    path: str | Path,
    columns: ColumnMap | None = None,
    *,
    encoding: str | None = None,
    on_duplicate: str = "drop",
    locale: str | None = None,
    esci_small: bool = False,
    sep: str | None = None,
) -> RelevanceData:
    """Read a pointwise table into :class:`RelevanceData`.

    Unset parts of ``columns`` come from the layout recognised from the header (ESCI,
    Home Depot, or rankwright's own query/doc/label); a missing column is an error
    that names the file, the column and the columns present. The published ESCI
    examples table (``query_id, product_id, product_locale, esci_label, small_version,
    split``, with or without the products table joined) is read by
    :func:`~rankwright.data.readers.esci.read_esci`, where ``locale`` and ``esci_small``
    filter rows. ``sep``: the CSV field separator (default: tab for .tsv, else comma).
    """
    source = str(path)
    frame, notes = read_table_file(path, encoding=encoding, sep=sep)
    if frame.empty:
        header = f" (only a header: {list(frame.columns)})" if len(frame.columns) else ""
        raise DataError(source, f"has no rows{header}")
    if is_published_esci(list(frame.columns)):
        filters = {"locale": locale, "small": esci_small}
        return read_esci(frame, source, columns, notes=notes, on_duplicate=on_duplicate, **filters)
    if locale or esci_small:
        raise DataError(
            source,
            "data.locale and data.esci_small filter the published ESCI examples table (columns query_id, "
            f"product_id, product_locale, esci_label, small_version); this table has {list(frame.columns)}",
        )
    columns = resolve_columns(columns, list(frame.columns), source)
    layout = detect_layout(list(frame.columns))
    if layout is not None and layout.label != columns.label:
        layout = None  # another label column: the layout's label scheme is not its
    report = DropReport(source=source, rows_in=len(frame), notes=notes)
    out = pd.DataFrame(
        {
            QUERY: frame[columns.query],
            DOC: _join_docs(frame, columns),
            LABEL: frame[columns.label],
            SOURCE_ROW: range(1, len(frame) + 1),
        }
    )
    if columns.query_id:
        out[QUERY_ID] = frame[columns.query_id]
    if columns.doc_id:
        out[DOC_ID] = frame[columns.doc_id]
    for col in columns.keep:
        out[col] = frame[col]
    out[LABEL] = _coerce_numeric(out[LABEL])
    pairs = finalize_pairs(out, report, on_duplicate=on_duplicate)
    if layout is None:
        return RelevanceData(pairs=pairs, report=report, format="table")
    return RelevanceData(pairs=pairs, report=report, format="table", labels=layout.labels, layout=layout.name)


_MISSING_WORDS = {"", "nan", "na", "n/a", "null", "none"}


def _coerce_numeric(labels: pd.Series) -> pd.Series:
    """Numbers stay numbers (CSV gives strings); class names stay strings."""
    labels = labels.mask(labels.astype(str).str.strip().str.lower().isin(_MISSING_WORDS))
    numeric = pd.to_numeric(labels, errors="coerce")
    present = labels.notna() & labels.astype(str).str.strip().ne("")
    if present.any() and numeric[present].notna().all():
        return numeric
    return labels
