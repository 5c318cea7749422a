"""Pair building (``rankwright pairs``, the seed-004 config configs/movielens_pairs.yaml)
on a Dask LocalCluster with 1 and with 2 worker processes: MovieLens 100k, then a
synthetic interaction table 10x its size generated here (more users, the same 1,682
films), to show how time and memory grow with the data.

The synthetic users are copies of the real ones (ids ``u + 1000 * copy``), each with
20% of its films replaced by popularity-weighted random films (seeded), written as a
partitioned parquet folder (one file per copy) in a temporary directory.

Each run is its own ``rankwright pairs`` process, so peak memory is per run: the peak
resident memory (Linux VmHWM) of the client process (which also runs the scheduler and
has every rankwright command, torch included, imported) and of each worker process,
from the run's summary.json; their sum is an upper bound of the combined peak. Wall
time is the whole command (start-up, cluster start and stop included); the pipeline's
own read/build/merge seconds are reported beside it.

    python bench/pairs_dask.py   # writes bench/results/pairs_dask.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, machine, timed_run, write_json

MOVIELENS = SHARED_DATA / "movielens-100k"
CONFIG = REPO / "configs" / "movielens_pairs.yaml"
COPIES = 10
REPLACED = 0.2


def write_synthetic(folder: Path, copies: int = COPIES, seed: int = 0) -> int:
    """MovieLens 100k scaled ``copies`` times by users; returns the number of rows."""
    base = pd.read_csv(
        MOVIELENS / "u.data", sep="\t", names=["user_id", "item_id", "rating", "timestamp"], dtype="int64"
    )
    popularity = base["item_id"].value_counts()
    films, weights = popularity.index.to_numpy(), popularity.to_numpy() / popularity.sum()
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    rows = 0
    for copy in range(copies):
        frame = base.copy()
        frame["user_id"] += 1000 * copy
        if copy:
            swap = rng.random(len(frame)) < REPLACED
            frame.loc[swap, "item_id"] = rng.choice(films, size=int(swap.sum()), p=weights)
            frame = frame.drop_duplicates(["user_id", "item_id"], keep="first")
        frame.to_parquet(folder / f"part-{copy:02d}.parquet", index=False)
        rows += len(frame)
    return rows


def run_pairs(out: Path, workers: int, interactions: list[str]) -> dict:
    """One ``rankwright pairs`` process; returns its measurements."""
    command = [sys.executable, "-m", "rankwright.cli", "pairs", "--config", str(CONFIG)]
    command += ["--items.path", str(MOVIELENS / "u.item"), "--output.dir", str(out)]
    command += ["--dask.workers", str(workers), "--progress", "false", *interactions]
    wall = timed_run(command, cwd=REPO, stdout=subprocess.DEVNULL)
    summary = json.loads((out / "summary.json").read_text())
    workers_mib = summary["memory"]["worker_peak_mib"]
    evaluation = json.loads((out / "evaluation.json").read_text())["systems"]
    return {
        "workers": workers,
        "cluster": summary["dask"]["cluster"],
        "partitions": {"input": summary["dask"]["input_partitions"], "shuffle": summary["dask"]["npartitions"]},
        "interactions": summary["interactions"]["rows_in"],
        "users": summary["users"],
        "rows": summary["rows"],
        "groups": summary["groups"],
        "positives_over_cap": summary["positives"]["dropped_over_per_user_cap"],
        "leakage_ok": summary["leakage"]["ok"],
        "wall_s": round(wall, 1),
        "pipeline_s": summary["seconds"],
        "client_peak_mib": summary["memory"]["client_peak_mib"],
        "worker_peak_mib": sorted(workers_mib.values()),
        "sum_of_peaks_mib": round(summary["memory"]["client_peak_mib"] + sum(workers_mib.values()), 1),
        "test_baselines_ndcg@10": {name: round(r["ndcg@10"], 4) for name, r in evaluation.items()},
    }


def main() -> None:
    results: dict = {"machine": machine(), "config": str(CONFIG.relative_to(REPO)), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        synthetic = tmp_path / "synthetic-10x"
        results["synthetic_rows"] = write_synthetic(synthetic)
        data = {
            "movielens-100k": ["--interactions.path", str(MOVIELENS / "u.data")],
            f"synthetic {COPIES}x": ["--interactions.path", str(synthetic), "--interactions.format", "parquet"],
        }
        for name, interactions in data.items():
            for workers in (1, 2):
                run = run_pairs(tmp_path / f"out-{len(results['runs'])}", workers, interactions)
                results["runs"].append({"data": name, **run})
                print(json.dumps(results["runs"][-1]), flush=True)
    out = REPO / "bench" / "results" / "pairs_dask.json"
    write_json(out, results)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
