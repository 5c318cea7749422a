"""Writing built rows: parquet part files per Dask partition and split, then one
file per split that ``rankwright train`` reads directly.

Workers write ``parts/<split>/part-NNNNN.parquet``, each sorted by (user, position).
The per-split files are a k-way merge of those parts by the same key, streamed in
batches, so the client never holds a whole split and the files are identical for
any number of partitions or workers:

- ``<split>.jsonl``: grouped JSONL in the FlagEmbedding layout, one line per positive
  (``query_id``, ``query`` = the user context, ``pos``/``neg`` lists of ``{doc_id,
  text}``, plus ``user_id``, ``split`` and ``context_items``);
- ``<split>.parquet``: one row per pair (``query_id, query, doc_id, doc, label``, plus
  ``user_id, hard, split, context_items``).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rankwright.data.readers.grouped import read_grouped
from rankwright.interactions.config import OUTPUT_FORMATS  # noqa: F401 (re-exported)
from rankwright.interactions.splitting import SPLITS

PARTS = "parts"
BATCH_ROWS = 8192

ROW_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("query_id", pa.string()),
        ("query", pa.string()),
        ("doc_id", pa.string()),
        ("doc", pa.string()),
        ("label", pa.int64()),
        ("hard", pa.int64()),
        ("split", pa.string()),
        ("context_items", pa.list_(pa.string())),
        ("position", pa.int64()),
    ]
)


def user_key(user: str) -> tuple[int, int, str]:
    """Sort key of user ids: numeric ids in numeric order, then the others by text."""
    return (0, int(user), user) if user.isdigit() else (1, 0, user)


def row_key(row: dict[str, Any]) -> tuple:
    return (*user_key(row["user_id"]), row["position"])


def sort_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows in (user, position) order, as every part and merged file is."""
    if rows.empty:
        return rows
    keys = [row_key(r) for r in rows[["user_id", "position"]].to_dict("records")]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return rows.iloc[order].reset_index(drop=True)


def part_path(out_dir: str | Path, split: str, partition: int) -> Path:
    return Path(out_dir) / PARTS / split / f"part-{partition:05d}.parquet"


def part_files(out_dir: str | Path, split: str) -> list[Path]:
    return sorted((Path(out_dir) / PARTS / split).glob("part-*.parquet"))


def clear_parts(out_dir: str | Path) -> None:
    """Remove the part files a previous run left (only files named like ours)."""
    for split in SPLITS:
        for path in part_files(out_dir, split):
            path.unlink()


def remove_parts(out_dir: str | Path) -> None:
    """Remove the part files and the then-empty part folders."""
    clear_parts(out_dir)
    for split in SPLITS:
        folder = Path(out_dir) / PARTS / split
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    folder = Path(out_dir) / PARTS
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def write_parts(rows: pd.DataFrame, out_dir: str | Path, partition: int) -> None:
    """One sorted parquet part per split present in ``rows``."""
    for split, frame in rows.groupby("split", sort=True):
        path = part_path(out_dir, str(split), partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(sort_rows(frame)[ROW_SCHEMA.names], schema=ROW_SCHEMA, preserve_index=False)
        pq.write_table(table, path)


def _iter_part(path: Path) -> Iterator[dict[str, Any]]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
        yield from batch.to_pylist()


def merged_rows(files: list[Path]) -> Iterator[dict[str, Any]]:
    """The rows of sorted part files, merged in (user, position) order."""
    return heapq.merge(*(_iter_part(f) for f in files), key=row_key)


def _group_record(rows: list[dict[str, Any]]) -> dict[str, Any]:
    first = rows[0]
    return {
        "query_id": first["query_id"],
        "query": first["query"],
        "pos": [{"doc_id": r["doc_id"], "text": r["doc"]} for r in rows if r["label"] > 0],
        "neg": [{"doc_id": r["doc_id"], "text": r["doc"], "hard": bool(r["hard"])} for r in rows if r["label"] <= 0],
        "user_id": first["user_id"],
        "split": first["split"],
        "context_items": list(first["context_items"]),
    }


class _SplitWriter:
    """Streams merged rows of one split into the requested files."""

    def __init__(self, out_dir: Path, split: str, formats: list[str]):
        self.paths: dict[str, str] = {}
        self.jsonl = self.parquet = None
        if "jsonl" in formats:
            path = out_dir / f"{split}.jsonl"
            self.jsonl = path.open("w", encoding="utf-8")
            self.paths["jsonl"] = str(path)
        if "parquet" in formats:
            path = out_dir / f"{split}.parquet"
            self.parquet = pq.ParquetWriter(path, ROW_SCHEMA.remove(ROW_SCHEMA.get_field_index("position")))
            self.paths["parquet"] = str(path)
        self.group: list[dict[str, Any]] = []
        self.batch: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        if self.group and row["query_id"] != self.group[0]["query_id"]:
            self._flush_group()
        self.group.append(row)
        self.batch.append(row)
        if len(self.batch) >= BATCH_ROWS:
            self._flush_batch()

    def _flush_group(self) -> None:
        if self.jsonl is not None and self.group:
            self.jsonl.write(json.dumps(_group_record(self.group), ensure_ascii=False) + "\n")
        self.group = []

    def _flush_batch(self) -> None:
        if self.parquet is not None and self.batch:
            self.parquet.write_table(pa.Table.from_pylist(self.batch, schema=self.parquet.schema))
        self.batch = []

    def close(self) -> None:
        self._flush_group()
        self._flush_batch()
        if self.jsonl is not None:
            self.jsonl.close()
        if self.parquet is not None:
            self.parquet.close()


def write_split(out_dir: str | Path, split: str, formats: list[str]) -> dict[str, Any]:
    """Merge the split's parts into the single files of ``formats``; returns
    {"rows", "groups", "files"}. A split without rows writes no file."""
    out_dir = Path(out_dir)
    for stale in (out_dir / f"{split}.jsonl", out_dir / f"{split}.parquet"):
        stale.unlink(missing_ok=True)
    files = part_files(out_dir, split)
    if not files or not {"jsonl", "parquet"} & set(formats):
        return {"rows": 0, "groups": 0, "files": {}}
    writer = _SplitWriter(out_dir, split, formats)
    rows = groups = 0
    last_query = None
    try:
        for row in merged_rows(files):
            rows += 1
            groups += row["query_id"] != last_query
            last_query = row["query_id"]
            writer.add(row)
    finally:
        writer.close()
    return {"rows": rows, "groups": groups, "files": writer.paths}


def read_pairs(out_dir: str | Path, split: str) -> pd.DataFrame:
    """A split's rows (user_id, query_id, query, doc_id, doc, label, split,
    context_items) from its parts, its parquet file or its JSONL file."""
    out_dir = Path(out_dir)
    files = part_files(out_dir, split)
    if files:
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    if (out_dir / f"{split}.parquet").exists():
        return pd.read_parquet(out_dir / f"{split}.parquet")
    if (out_dir / f"{split}.jsonl").exists():
        pairs = read_grouped(out_dir / f"{split}.jsonl", "flag").pairs
        pairs["label"] = pairs["label"].astype(int)
        return pairs
    raise FileNotFoundError(f"{out_dir}: no {split} pairs (parts, {split}.parquet or {split}.jsonl)")
