"""Seed 004 end to end on MovieLens 100k: ``rankwright pairs`` builds (user context,
movie, label) groups split by time, ``rankwright train`` fine-tunes the packaged MiniLM
as a cross-encoder on them, and ``rankwright pairs --evaluation.model`` scores each test
user's held-out film against its sampled negatives: per-user nDCG@10, MAP, MRR (trec_eval
conventions), pair ROC-AUC and average precision, next to the popularity and random
baselines on the same rows. Each step is the CLI, as a user runs it.

    python bench/movielens_reranker.py           # writes bench/results/movielens_reranker.json
    python bench/movielens_reranker.py --epochs 2 --loss listwise_ce
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, machine, timed_run, write_json


def run(command: list[str]) -> float:
    print("+", " ".join(command), flush=True)
    return round(timed_run(command, cwd=REPO), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default=str(REPO / "runs" / "bench_movielens"))
    parser.add_argument("--loss", default="listwise_ce")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=8, help="groups (1 positive + 3 negatives) per step")
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "movielens_reranker.json"))
    args = parser.parse_args()

    work = Path(args.workdir)
    pairs_dir, model_dir = work / "pairs", work / "model"
    config = ["--config", "configs/movielens_pairs.yaml"]
    data = [
        "--interactions.path",
        str(SHARED_DATA / "movielens-100k" / "u.data"),
        "--items.path",
        str(SHARED_DATA / "movielens-100k" / "u.item"),
        "--output.dir",
        str(pairs_dir),
    ]
    seconds = {"pairs": run(["rankwright", "pairs", *config, *data, "--overwrite", "true"])}  # a rerun replaces them
    seconds["train"] = run(
        [
            "rankwright",
            "train",
            "--data.path",
            str(pairs_dir / "train.jsonl"),
            "--val_path",
            str(pairs_dir / "val.jsonl"),
            "--labels.scheme",
            "binary",
            "--labels.threshold",
            "1",
            "--model.max_length",
            str(args.max_length),
            "--loss.name",
            args.loss,
            "--sampling.negatives_per_group",
            "3",
            "--training.epochs",
            str(args.epochs),
            "--training.batch_size",
            str(args.batch_size),
            "--training.learning_rate",
            str(args.learning_rate),
            "--output_dir",
            str(model_dir),
            "--overwrite",
            "true",
            "--progress",
            "false",
        ]
    )
    best = model_dir / "best" if (model_dir / "best").is_dir() else model_dir / "final"
    seconds["evaluate"] = run(
        ["rankwright", "pairs", *config, *data, "--build", "false", "--evaluation.model", str(best)]
    )
    summary = json.loads((model_dir / "train_summary.json").read_text())
    result = {
        "machine": machine(),
        "settings": vars(args),
        "seconds": seconds,
        # the largest resident set of the three commands (each a child process)
        "peak_rss_mib_children": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "train": {k: summary.get(k) for k in ("pairs_per_second", "train_runtime_s", "best_validation", "pairs_seen")},
        "pairs_summary": json.loads((pairs_dir / "summary.json").read_text()),
        "evaluation": json.loads((pairs_dir / "evaluation.json").read_text()),
    }
    write_json(args.out, result, default=str)
    print(json.dumps(result["evaluation"], indent=2, default=str)[:3000])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
