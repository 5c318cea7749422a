"""The one code path that builds pairs, on Dask, for one machine or many.

1. Read: the interactions stay a Dask frame; each partition is cleaned (bad rows
   counted), and the item popularity (a small per-item count) is computed.
2. Build: the cleaned frame is shuffled by user id, so each partition holds whole
   users; each partition builds its users' rows (the item catalog is broadcast),
   runs the leakage check, writes sorted parquet parts and returns only counts.
3. Merge: the client streams the parts into one file per split (a k-way merge), so
   the output is the same for any partitioning, and writes ``summary.json``.

Nothing collects the interactions into one pandas frame: partitions are processed
where they live, and only per-item counts and per-partition statistics come back.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd

from rankwright.interactions.cluster import dask_session
from rankwright.interactions.config import PairsConfig
from rankwright.interactions.items import Catalog, read_items
from rankwright.interactions.leakage import LeakageReport, check_leakage
from rankwright.interactions.output import clear_parts, remove_parts, write_parts, write_split
from rankwright.interactions.reading import (
    ITEM,
    RATING,
    TIMESTAMP,
    USER,
    InteractionsConfig,
    canonical_partition,
    drop_meta,
    drop_partition,
    empty_interactions,
    parse_errors,
    read_interactions,
    summarize_drops,
)
from rankwright.interactions.sampling import cumulative_weights, hard_negatives
from rankwright.interactions.splitting import SPLITS
from rankwright.interactions.users import ROW_COLUMNS, BuildSettings, build_user

log = logging.getLogger(__name__)

POPULARITY_FILE = "item_popularity.parquet"
SUMMARY_FILE = "summary.json"


def _stats_meta() -> pd.DataFrame:
    return pd.DataFrame({"partition": pd.Series(dtype="int64"), "stats": pd.Series(dtype=object)})


def build_partition(
    frame: pd.DataFrame, catalog: Catalog, settings: BuildSettings, out_dir: str, partition_info: Any = None
) -> pd.DataFrame:
    """Rows of every user in one shuffled partition, checked and written as parts;
    returns one row of JSON statistics."""
    if partition_info is None:  # the part file names need it: never guess
        raise RuntimeError("build_partition runs under map_partitions, which passes partition_info")
    number = int(partition_info["number"])
    counts: Counter = Counter()
    training = np.zeros(len(catalog), dtype=np.int64)
    rows: list[dict[str, Any]] = []
    if len(frame):
        item_rows = frame[ITEM].map(catalog.row).to_numpy(dtype=np.int64)
        user_codes, user_ids = pd.factorize(frame[USER], sort=True)
        times = frame[TIMESTAMP].to_numpy(dtype=np.int64)
        ratings = frame[RATING].to_numpy(dtype=np.float64)
        order = np.lexsort((item_rows, times, user_codes))
        item_rows, times, ratings, user_codes = item_rows[order], times[order], ratings[order], user_codes[order]
        starts = np.flatnonzero(np.r_[True, user_codes[1:] != user_codes[:-1]])
        ends = np.r_[starts[1:], len(order)]
        hard = hard_negatives(catalog, settings.negatives.bm25) if settings.negatives.hard_per_positive else None
        for start, end in zip(starts, ends, strict=True):
            user = str(user_ids[user_codes[start]])
            built = build_user(
                user, item_rows[start:end], ratings[start:end], times[start:end], catalog, settings, hard
            )
            rows.extend(built.rows)
            counts.update(built.counts)
            training += np.bincount(built.training_items, minlength=len(catalog))
    built_rows = pd.DataFrame(rows, columns=ROW_COLUMNS)
    leakage = check_leakage(built_rows, frame, settings.split.by)
    write_parts(built_rows, out_dir, number)
    nonzero = np.flatnonzero(training)
    stats = {
        "counts": dict(counts),
        "leakage": leakage.to_dict(),
        "training_popularity": dict(zip(nonzero.tolist(), training[nonzero].tolist(), strict=True)),
    }
    return pd.DataFrame({"partition": [number], "stats": [json.dumps(stats)]}).astype(_stats_meta().dtypes)


def _merge_stats(frame: pd.DataFrame, n_items: int, split_by: str) -> tuple[Counter, LeakageReport, np.ndarray]:
    counts: Counter = Counter()
    leakage = LeakageReport(split_by)
    training = np.zeros(n_items, dtype=np.int64)
    for text in frame["stats"]:
        stats = json.loads(text)
        counts.update(stats["counts"])
        leakage.merge(LeakageReport.from_dict(stats["leakage"]))
        for row, n in stats["training_popularity"].items():
            training[int(row)] += n
    return counts, leakage, training


def _per_split(counts: Counter, prefix: str) -> dict[str, int]:
    return {s: int(counts.get(f"{prefix}:{s}", 0)) for s in SPLITS}


def _summary_counts(counts: Counter) -> dict[str, Any]:
    return {
        "users": {
            "with_interactions": int(counts["users"]),
            "kept": int(counts["users kept"]),
            "dropped_fewer_than_min_positives": int(counts["users with too few positives"]),
            "per_split": _per_split(counts, "users"),
        },
        "positives": {
            "available": int(counts["positives"]),
            "used_per_split": _per_split(counts, "groups"),
            "dropped_over_per_user_cap": int(counts["positives over the per-user cap"]),
            "dropped_with_their_user": int(counts["positives of dropped users"]),
        },
        "negatives": {
            "random_per_split": _per_split(counts, "random negatives"),
            "hard_per_split": _per_split(counts, "hard negatives"),
            "short_per_split": _per_split(counts, "negatives short"),
        },
        "repeated_interactions_merged": int(counts["repeated interactions (latest kept)"]),
        "rows_per_split": _per_split(counts, "rows"),
    }


def _write_popularity(out_dir: Path, catalog: Catalog, counts: np.ndarray, training: np.ndarray) -> Path:
    path = out_dir / POPULARITY_FILE
    frame = pd.DataFrame({"item_id": catalog.ids, "interactions": counts, "training_interactions": training})
    frame.to_parquet(path, index=False)
    return path


def _read_and_count(session, drops, popularity, config: InteractionsConfig) -> tuple[pd.DataFrame, pd.Series]:
    """The first pass over the interactions; a file that cannot be parsed or decoded
    is an error naming it (Dask does not know the line numbers of its blocks)."""
    with parse_errors(config):
        return session.compute(drops, popularity)


def build_pairs(config: PairsConfig) -> dict[str, Any]:
    """Build the pairs of ``config`` on Dask; returns (and writes) the summary."""
    config.check()
    started = time.perf_counter()
    catalog = read_items(config.items)
    raw = read_interactions(config.interactions)
    out_dir = Path(config.output.dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clear_parts(out_dir)
    seconds: dict[str, float] = {}
    with dask_session(config.dask, progress=config.progress) as session:
        clean, drop_frame, counts = _count(session, config, catalog, raw)
        seconds["read_and_count"] = time.perf_counter() - started
        stats_frame, npartitions = _build(session, config, catalog, clean, counts, out_dir)
        seconds["build"] = time.perf_counter() - started - seconds["read_and_count"]
        memory = session.memory()
    totals, leakage, training = _merge_stats(stats_frame, len(catalog), config.split.by)
    merged_at = time.perf_counter()
    files, groups, rows = {}, {}, {}
    for split in SPLITS:
        written = write_split(out_dir, split, config.output.formats)
        files[split], groups[split], rows[split] = written["files"], written["groups"], written["rows"]
    if "partitioned" not in config.output.formats:
        remove_parts(out_dir)
    popularity_path = _write_popularity(out_dir, catalog, counts, training)
    seconds["merge"] = time.perf_counter() - merged_at
    seconds["total"] = time.perf_counter() - started
    summary = {
        "output_dir": str(out_dir),
        "files": {**files, "popularity": str(popularity_path), "summary": str(out_dir / SUMMARY_FILE)},
        "rows": rows,
        "groups": groups,
        **_summary_counts(totals),
        "interactions": summarize_drops(drop_frame, config.interactions.path),
        "items": catalog.report,
        "leakage": leakage.to_dict(),
        "dask": {"cluster": session.description, "input_partitions": raw.npartitions, "npartitions": npartitions},
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "memory": memory,
        "config": asdict(config),
    }
    if "partitioned" in config.output.formats:
        summary["files"]["partitioned"] = str(out_dir / "parts")
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    log.info("wrote %s", out_dir / SUMMARY_FILE)
    leakage.raise_if_leaking()
    return summary


def _count(session, config: PairsConfig, catalog, raw) -> tuple[Any, pd.DataFrame, np.ndarray]:
    """The first pass: the clean interactions (lazy), the dropped rows by reason and
    each catalog item's interaction count."""
    known = dask.delayed(frozenset(catalog.ids), pure=True)
    clean = raw.map_partitions(canonical_partition, config.interactions, known, meta=empty_interactions())
    drops = raw.map_partitions(drop_partition, config.interactions, known, meta=drop_meta())
    popularity = clean.groupby(ITEM)[USER].count()
    log.info("reading %s (%d partitions) and counting item popularity", config.interactions.path, raw.npartitions)
    drop_frame, item_counts = _read_and_count(session, drops, popularity, config.interactions)
    counts = np.zeros(len(catalog), dtype=np.int64)
    counts[[catalog.row[i] for i in item_counts.index]] = item_counts.to_numpy()
    return clean, drop_frame, counts


def _build(session, config: PairsConfig, catalog, clean, counts: np.ndarray, out_dir: Path) -> tuple[pd.DataFrame, int]:
    """The second pass: each user's interactions in one partition, its pairs written as
    parts under ``out_dir``; the partitions' statistics and their number."""
    settings = BuildSettings(
        config.positives,
        config.context,
        config.negatives,
        config.split,
        config.seed,
        cumulative_weights(counts, config.negatives.popularity_alpha),
    )
    npartitions = config.dask.npartitions or max(clean.npartitions, 2 * session.threads)
    shuffled = clean.shuffle(on=USER, npartitions=npartitions)
    stats = shuffled.map_partitions(
        build_partition, dask.delayed(catalog, pure=True), settings, str(out_dir), meta=_stats_meta()
    )
    log.info("building pairs in %d partitions on %s", npartitions, session.description)
    (stats_frame,) = session.compute(stats)
    return stats_frame, npartitions
