"""Scoring jobs on Dask with 1 and 2 workers of one core each: teacher-scoring pairs/s
(a MiniLM-L6 cross-encoder) and mining queries/s (BM25 over the corpus, dense teacher
scores for every kept document) on Home Depot, peak memory per worker, whether the
files are byte-identical, and what a 10-machine cluster would do by the measured
scaling.

Each job runs through the real command (``rankwright teacher-score`` / ``mine``, with
``dask.scheduler`` pointing at a LocalCluster this script starts, so the cluster's
start-up is not timed; each worker's model load and index read are). Runs take turns
(1 worker, 2 workers, 1 worker, ...), so drift in the machine hits both alike.

    python bench/dask_scaling.py --queries 1500 --rounds 2 --out bench/results/dask_scaling.json
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, interleaved, load_average, machine, write_json

HD_ZIP = SHARED_DATA / "homedepot" / "train.csv.zip"
CONFIG = REPO / "configs" / "homedepot_bm25.yaml"


def subset_csv(folder: Path, n_queries: int) -> tuple[Path, dict[str, int]]:
    """The rows of the first ``n_queries`` distinct search terms of Home Depot's train.csv."""
    with zipfile.ZipFile(HD_ZIP) as z, z.open("train.csv") as f:
        rows = pd.read_csv(f, encoding="latin-1")
    keep = rows["search_term"].drop_duplicates().iloc[:n_queries]
    rows = rows[rows["search_term"].isin(set(keep))]
    path = folder / "homedepot_subset.csv"
    rows.to_csv(path, index=False)
    return path, {"queries": int(keep.size), "pairs": len(rows), "products": int(rows["product_uid"].nunique())}


def cross_encoder(folder: Path) -> str:
    """all-MiniLM-L6-v2's real weights with a seeded one-output head (untrained: this is a speed benchmark)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rankwright.models.loading import resolve_model_path

    torch.manual_seed(0)
    base = resolve_model_path("all-MiniLM-L6-v2")
    out = folder / "minilm-cross-encoder"
    AutoModelForSequenceClassification.from_pretrained(base, num_labels=1).save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return str(out)


def jobs(data: Path, model: str) -> dict[str, list[str]]:
    common = ["--config", str(CONFIG), "--data.path", str(data), "--subset", "all", "--progress", "false"]
    return {
        "teacher-score": ["teacher-score", *common, "--model", model, "--block", "256", "--batch_size", "64"],
        "mine": [
            *["mine", *common, "--retriever.kind", "bm25", "--mining.block", "32", "--mining.negatives", "8"],
            *["--mining.ranks", "10,100", "--teacher.model", "dense"],
        ],
    }


def warm_imports() -> None:
    """What a long-lived worker has imported already (torch, transformers, sentence-transformers)."""
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401

    import rankwright.inference.reranker  # noqa: F401


def run_job(argv: list[str], output: Path, workers: int | None, warm: bool) -> dict[str, float]:
    """Wall seconds of the command, and each worker's peak RSS, on a fresh LocalCluster of
    ``workers`` (``warm``: its libraries imported before the clock starts; the model
    loads and the index reads stay timed)."""
    from distributed import Client, LocalCluster

    from rankwright.cli import main as cli
    from rankwright.interactions.cluster import peak_rss_mib

    argv = [*argv, "--output", str(output), "--overwrite", "true"]
    if workers is None:
        started = time.perf_counter()
        assert cli(argv) == 0
        return {"seconds": time.perf_counter() - started, "worker_peak_mib": [round(peak_rss_mib(), 1)]}
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        if warm:
            client.run(warm_imports)
        started = time.perf_counter()
        assert cli([*argv, "--dask.scheduler", cluster.scheduler_address, "--dask.partitions", str(4 * workers)]) == 0
        seconds = time.perf_counter() - started
        peaks = sorted(round(v, 1) for v in client.run(peak_rss_mib).values())
    return {"seconds": seconds, "worker_peak_mib": peaks}


def summarise(results: dict, units: dict[str, int]) -> dict:
    out = {}
    for job, by_workers in results.items():
        rates = {w: [units[job] / r["seconds"] for r in runs] for w, runs in by_workers.items()}
        med = {w: statistics.median(v) for w, v in rates.items()}
        one, two = med.get("1"), med.get("2")
        speedup = two / one if one and two else None
        out[job] = {
            "unit": "pairs" if job == "teacher-score" else "queries",
            "per_second": {w: [round(x, 2) for x in v] for w, v in rates.items()},
            "median_per_second": {w: round(v, 2) for w, v in med.items()},
            "speedup_2_vs_1": round(speedup, 3) if speedup else None,
            "worker_peak_mib": {w: [r["worker_peak_mib"] for r in runs] for w, runs in by_workers.items()},
            # by the measured scaling: each added core keeps the efficiency 2 workers showed
            "ten_machines_estimate": _ten_machines(one, speedup),
            "identical_outputs": len({r["digest"] for runs in by_workers.values() for r in runs}) == 1,
        }
    return out


def _ten_machines(one: float | None, speedup: float | None, cores: int = 2) -> dict | None:
    if not one or not speedup:
        return None
    efficiency = speedup / 2
    return {
        "assumes": f"10 machines x {cores} cores, one worker per core, the 2-worker efficiency ({efficiency:.2f}) held",
        "per_second": round(one * 10 * cores * efficiency, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=1500, help="distinct Home Depot search terms")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts; 0 = this process")
    parser.add_argument("--jobs", default="teacher-score,mine")
    parser.add_argument("--warm", action="store_true", help="import the libraries on the workers before timing")
    parser.add_argument("--out", default="bench/results/dask_scaling.json")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dask-scaling-"))
    data, sizes = subset_csv(folder, args.queries)
    commands = jobs(data, cross_encoder(folder))
    print(f"data: {sizes}", flush=True)
    units = {"teacher-score": sizes["pairs"], "mine": sizes["queries"]}
    results: dict[str, dict[str, list]] = {}
    counts = [int(w) for w in args.workers.split(",")]
    for job in args.jobs.split(","):
        for round_, workers in interleaved(counts, args.rounds):
            out = folder / f"{job}-{workers}-{round_}.out"
            run = run_job(commands[job], out, workers or None, args.warm)
            run["digest"] = hashlib.sha256(out.read_bytes()).hexdigest()[:16]
            run["load_average"] = load_average()
            results.setdefault(job, {}).setdefault(str(workers), []).append(run)
            print(f"{job} workers={workers} round={round_}: {run}", flush=True)
    summary = summarise(results, units)
    write_json(
        args.out, {"machine": machine(), "data": sizes, "commands": commands, "runs": results, "summary": summary}
    )
    for job, s in summary.items():
        print(
            f"{job}: {s['median_per_second']} {s['unit']}/s; 2 vs 1 worker {s['speedup_2_vs_1']}x; "
            f"peak MiB per worker {s['worker_peak_mib']}; identical files {s['identical_outputs']}"
        )


if __name__ == "__main__":
    main()
