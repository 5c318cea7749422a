"""One entry point, :func:`read_relevance`, for every input format.

The format is detected from the path when unambiguous (a BEIR or SMART folder, a
parquet/CSV/TSV table, a JSONL file whose first record shows a grouped or pointwise
layout) and can always be named explicitly.
"""

from __future__ import annotations

from pathlib import Path

from rankwright.data.config import FORMATS, GROUPED_LAYOUTS, ColumnMap, DataConfig
from rankwright.data.readers.collections import find_smart_files, read_beir, read_collection, read_smart_collection
from rankwright.data.readers.grouped import detect_grouped_layout, read_grouped
from rankwright.data.readers.jsonl import first_jsonl_record
from rankwright.data.readers.tables import read_table
from rankwright.data.readers.trec import read_qrels, read_run, write_run
from rankwright.data.records import DataError, RelevanceData

__all__ = [
    "FORMATS",
    "ColumnMap",
    "DataConfig",
    "detect_format",
    "read_qrels",
    "read_relevance",
    "read_run",
    "write_run",
]


def detect_format(path: str | Path) -> str:
    """The format of ``path``; raises naming the path when it cannot tell."""
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), "does not exist")
    if path.is_dir():
        if (path / "corpus.jsonl").exists() and (path / "queries.jsonl").exists():
            return "beir"
        try:
            find_smart_files(path)
        except DataError as err:
            raise DataError(
                str(path), f"folder is neither BEIR (corpus.jsonl, queries.jsonl, qrels/) nor SMART ({err.problem})"
            ) from None
        return "smart"
    suffixes = [s.lower() for s in path.suffixes]
    if ".jsonl" in suffixes or ".ndjson" in suffixes:
        record = first_jsonl_record(path)
        if record is None:
            raise DataError(str(path), "is empty")
        return detect_grouped_layout(record) or "table"
    if {".parquet", ".csv", ".tsv"} & set(suffixes):
        return "table"
    raise DataError(str(path), f"cannot tell the format from the name; set format to one of {', '.join(FORMATS)}")


def read_relevance(config: DataConfig | str | Path) -> RelevanceData:
    """Read relevance data in any supported format into :class:`RelevanceData`."""
    if not isinstance(config, DataConfig):
        config = DataConfig(path=str(config))
    separate = {"corpus": config.corpus, "queries": config.queries, "qrels": config.qrels}
    if any(separate.values()):
        missing = [k for k, v in separate.items() if not v]
        if missing or config.path:
            raise ValueError(
                "give either data.path or all of data.corpus, data.queries and data.qrels"
                + (f" (missing: {', '.join('data.' + m for m in missing)})" if missing else " (not both)")
            )
        return read_collection(config.corpus, config.queries, config.qrels)
    if not config.path:
        raise ValueError("data.path is not set (or give data.corpus, data.queries and data.qrels)")
    fmt = config.format if config.format != "auto" else detect_format(config.path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown data format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "table":
        return read_table(
            config.path,
            config.columns,
            encoding=config.encoding,
            on_duplicate=config.on_duplicate,
            locale=config.locale,
            esci_small=config.esci_small,
            sep=config.sep,
        )
    if config.locale or config.esci_small:
        raise ValueError(f"data.locale and data.esci_small filter the published ESCI table, not {fmt} data")
    if fmt == "grouped" or fmt in GROUPED_LAYOUTS:
        return read_grouped(config.path, None if fmt == "grouped" else fmt, on_duplicate=config.on_duplicate)
    if fmt == "beir":
        return read_beir(config.path, config.qrels_split)
    docs, queries, qrels = find_smart_files(config.path)
    return read_smart_collection(
        docs, queries, qrels, doc_fields=config.doc_fields, query_numbering=config.query_numbering
    )
