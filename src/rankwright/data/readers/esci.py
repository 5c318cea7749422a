"""The Amazon ESCI release (Shopping Queries Dataset) as published.

The examples table has ``example_id, query, query_id, product_id, product_locale,
esci_label, small_version, large_version, split``; joined with the products table
(keyed by ``product_id`` + ``product_locale``) it also has ``product_title,
product_description, product_bullet_point, product_brand, product_color``.

A document is a product: ``product_id`` is its id and its text joins the product
fields (``data.columns.docs``, default title, brand, color, bullet points; empty fields
skipped; each cut with ``data.columns.truncate_words``). ``esci_label`` gives the
classes E/S/C/I with the KDD Cup gains (1, 0.1, 0.01, 0) unless labels are given;
``split`` is kept for ``split.by: column``; ``data.locale`` and ``data.esci_small``
drop rows, counted in the drop report.
"""

from __future__ import annotations

import pandas as pd

from rankwright.data.config import ColumnMap, LabelConfig
from rankwright.data.readers.common import SOURCE_ROW, finalize_pairs, truncate_words
from rankwright.data.records import DOC, DOC_ID, LABEL, QUERY, QUERY_ID, SPLIT, DataError, DropReport, RelevanceData

#: Columns every published examples table has (the old ``query, item_text, esci_label`` layout has no product_id).
REQUIRED = ("query", "query_id", "product_id", "esci_label")
#: Columns only the published release has; one of them (or product_title) marks a table as published.
MARKERS = ("example_id", "product_locale", "small_version", "large_version", "split", "product_title")
PRODUCT_FIELDS = ("product_title", "product_description", "product_bullet_point", "product_brand", "product_color")
DEFAULT_FIELDS = ["product_title", "product_brand", "product_color", "product_bullet_point"]
ESCI_CLASSES = ("E", "S", "C", "I")
KDD_CUP_GAINS = {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0}


def kdd_cup_labels() -> LabelConfig:
    """E/S/C/I with the KDD Cup 2022 gains (made integers by a factor of 100); E relevant."""
    return LabelConfig(scheme="classes", classes=list(ESCI_CLASSES), gains=dict(KDD_CUP_GAINS), relevant_classes=["E"])


def is_published_esci(columns: list[str]) -> bool:
    cols = set(columns)
    return set(REQUIRED) <= cols and "item_text" not in cols and bool(cols & set(MARKERS))


def _fields(columns: ColumnMap, present: list[str], source: str) -> list[str]:
    if columns.docs:
        missing = [c for c in columns.docs if c not in present]
        if missing:
            raise DataError(source, f"missing column(s) {missing}; columns present: {present}")
        return list(columns.docs)
    if "product_title" not in present:
        raise DataError(
            source,
            "has the ESCI examples table's columns but no product text (no product_title): join the products table "
            "(shopping_queries_dataset_products) on product_id and product_locale first, or name the text "
            "columns in data.columns.docs",
        )
    return [c for c in DEFAULT_FIELDS if c in present]


def _product_text(frame: pd.DataFrame, fields: list[str], columns: ColumnMap) -> pd.Series:
    """The fields joined with ``columns.separator``, empty ones skipped."""
    parts = []
    for col in fields:
        part = frame[col].astype("string").fillna("").str.strip()
        if col in columns.truncate_words:
            part = part.map(lambda t, n=int(columns.truncate_words[col]): truncate_words(t, n))
        parts.append(part)
    rows = zip(*(p.tolist() for p in parts), strict=True)
    return pd.Series([columns.separator.join(t for t in row if t) for row in rows], index=frame.index, dtype=object)


def _keep(frame: pd.DataFrame, mask: pd.Series, report: DropReport, reason: str) -> pd.DataFrame:
    dropped = frame[~mask]
    if len(dropped):
        report.drop(reason, len(dropped), example=f"{report.source}: row {dropped[SOURCE_ROW].iloc[0]}")
    return frame[mask]


def _filter(frame: pd.DataFrame, report: DropReport, locale: str | None, small: bool) -> pd.DataFrame:
    source = report.source
    if locale:
        if "product_locale" not in frame:
            raise DataError(source, "data.locale needs the product_locale column, which this table lacks")
        values = frame["product_locale"].astype("string").str.strip().str.lower()
        wanted = values.eq(locale.strip().lower()).fillna(False)
        if not wanted.any():
            found = sorted(values.dropna().unique())
            raise DataError(source, f"data.locale {locale!r} matches no row; product_locale values: {found}")
        frame = _keep(frame, wanted, report, f"product_locale not {locale!r}")
    if small:
        if "small_version" not in frame:
            raise DataError(source, "data.esci_small needs the small_version column, which this table lacks")
        in_small = pd.to_numeric(frame["small_version"], errors="coerce").eq(1)
        frame = _keep(frame, in_small, report, "not in the small version (small_version != 1)")
    return frame


def _check_labels(labels: pd.Series, rows: pd.Series, source: str) -> pd.Series:
    text = labels.astype("string").str.strip()
    bad = text.notna() & text.ne("") & ~text.isin(ESCI_CLASSES)
    if bad.any():
        first = bad[bad].index[0]
        raise DataError(
            source,
            f"unknown esci_label value {labels[first]!r} ({int(bad.sum())} row(s) in all); expected one of "
            f"{', '.join(ESCI_CLASSES)}",
            row=int(rows[first]),
        )
    return text.astype(object).where(text.notna(), None)


def _shared_products_note(frame: pd.DataFrame) -> str | None:
    if "product_locale" not in frame or frame["product_locale"].nunique() < 2:
        return None
    locales = frame.groupby(frame["product_id"].astype(str))["product_locale"].nunique()
    shared = int((locales > 1).sum())
    if not shared:
        return None
    return (
        f"{shared} product_id(s) occur in more than one product_locale; a document id keeps one text "
        "(set data.locale to read one locale)"
    )


def read_esci(
    frame: pd.DataFrame,
    source: str,
    columns: ColumnMap | None = None,
    *,
    notes: list[str] | None = None,
    on_duplicate: str = "drop",
    locale: str | None = None,
    small: bool = False,
) -> RelevanceData:
    """The published ESCI examples table (``frame``, read from ``source``) as relevance data."""
    columns = columns or ColumnMap()
    present = [str(c) for c in frame.columns]
    fields = _fields(columns, present, source)
    report = DropReport(source=source, rows_in=len(frame), notes=list(notes or []))
    frame = frame.assign(**{SOURCE_ROW: range(1, len(frame) + 1)})
    frame = _filter(frame, report, locale, small)
    out = pd.DataFrame(
        {
            QUERY: frame[columns.query or "query"],
            DOC: _product_text(frame, fields, columns),
            LABEL: _check_labels(frame[columns.label or "esci_label"], frame[SOURCE_ROW], source),
            SOURCE_ROW: frame[SOURCE_ROW],
            QUERY_ID: frame[columns.query_id or "query_id"],
            DOC_ID: frame[columns.doc_id or "product_id"],
        }
    )
    if "split" in frame:
        out[SPLIT] = frame["split"]
    for col in columns.keep:
        if col not in frame:
            raise DataError(source, f"missing column(s) {[col]}; columns present: {present}")
        out[col] = frame[col]
    pairs = finalize_pairs(out, report, on_duplicate=on_duplicate)
    note = _shared_products_note(frame)
    if note:
        report.notes.append(note)
    return RelevanceData(pairs=pairs, report=report, format="table", labels=kdd_cup_labels(), layout="ESCI")
