"""Does hard-negative mining help a MiniLM cross-encoder on Cranfield? Three training
sets for the same training queries, differing only in their negatives, each trained
and then evaluated as a BM25 top-100 reranker on the held-out test queries:

- random: 15 documents drawn at random from the whole corpus (ranks 1..1400 of BM25);
- bm25: 15 drawn at random from BM25 ranks 10..100;
- bm25 + teacher filter: the same, after dropping candidates whose MiniLM cosine with
  the query exceeds 0.95 x the best positive's (likely false negatives).

Queries are split 60/20/20 (seed 42): 135 train (mined; 15% of them validate and
pick best/), 45 test. Also reported: BM25 alone and a zero-shot MiniLM cosine rerank
of the same BM25 top 100. Paired tests (t-test and randomisation) over the test
queries compare every row with BM25 and the trained rows with each other. Every step
is a rankwright command; the commands are saved with the results.

    python bench/cranfield_mining.py   # writes bench/results/cranfield_mining.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, timed_run, write_json

from rankwright.commands.common import load_data
from rankwright.commands.retrieve_rerank import RetrieveRerankConfig
from rankwright.config import from_dict
from rankwright.data.readers import read_run, write_run
from rankwright.data.records import DOC_ID, QUERY_ID, SCORE
from rankwright.evaluation.evaluate import qrels_of
from rankwright.evaluation.ranking import RankingConfig, evaluate_run
from rankwright.evaluation.significance import paired_comparison
from rankwright.inference.candidates import attach_texts
from rankwright.retrieval.dense import DenseEncoder

OUT = Path("runs/bench_cranfield")
ROWS = {
    "random negatives": ["--mining.ranks", "1,1400"],
    "BM25 hard negatives": [],
    "BM25 hard negatives + teacher filter": ["--teacher.model", "dense", "--teacher.relative", "0.95"],
}
METRICS = ("ndcg@10", "map", "mrr", "recall@100")


def sh(args: list[str], log: list[dict]) -> float:
    command = ["rankwright", *args, "--progress", "false", "--overwrite", "true"]  # a rerun replaces its results
    print("$", shlex.join(command), flush=True)
    seconds = timed_run([sys.executable, "-m", "rankwright.cli", *command[1:]], cwd=REPO)
    log.append({"command": shlex.join(command), "seconds": round(seconds, 1)})
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-args", default="", help="extra flags for every rankwright train")
    args = parser.parse_args()
    commands: list[dict] = []
    runs: dict[str, Path] = {}
    mined_info = {}
    for i, (name, flags) in enumerate(ROWS.items()):
        slug = f"row{i}"
        mined = OUT / f"{slug}_mined.jsonl"
        sh(["mine", "--config", "configs/cranfield_mine.yaml", *flags, "--output", str(mined)], commands)
        summary = json.loads(mined.with_name(f"{slug}_mined.summary.json").read_text())
        mined_info[name] = {k: summary[k] for k in ("negatives", "candidates_in_window", "dropped_by_teacher")}
        model_dir = OUT / f"{slug}_model"
        sh(
            [
                "train",
                "--config",
                "configs/cranfield_train.yaml",
                "--data.path",
                str(mined),
                "--output_dir",
                str(model_dir),
                *shlex.split(args.train_args),
            ],
            commands,
        )
        model = model_dir / "best" if (model_dir / "best").exists() else model_dir / "final"
        rr = OUT / f"{slug}_rerank"
        sh(
            [
                "retrieve-rerank",
                "--config",
                "configs/cranfield_rerank.yaml",
                "--model",
                str(model),
                "--output_dir",
                str(rr),
            ],
            commands,
        )
        runs[name] = rr / "reranked.trec"
        runs["BM25"] = rr / "bm25.trec"

    config = from_dict(RetrieveRerankConfig, yaml.safe_load((REPO / "configs/cranfield_rerank.yaml").read_text()))
    loaded = load_data(config)
    # Zero-shot dense rerank of the same BM25 candidates.
    bm25 = read_run(runs["BM25"])
    candidates = attach_texts(bm25[[QUERY_ID, DOC_ID]], loaded.full, "bm25")
    started = time.perf_counter()
    dense = candidates[[QUERY_ID, DOC_ID]].copy()
    dense[SCORE] = DenseEncoder().cosine(candidates["query"].tolist(), candidates["doc"].tolist())
    commands.append(
        {
            "command": "MiniLM cosine rerank of the BM25 top 100 (in-process)",
            "seconds": round(time.perf_counter() - started, 1),
        }
    )
    write_run(dense, OUT / "dense_zero_shot.trec", tag="minilm-cosine")
    order = ["BM25", "MiniLM cosine rerank (zero-shot)", *ROWS]
    runs["MiniLM cosine rerank (zero-shot)"] = OUT / "dense_zero_shot.trec"

    qrels = qrels_of(loaded.subset, loaded.scheme)
    ranking = RankingConfig(ndcg_at=[10], precision_at=[], recall_at=[100])
    per_query = {
        name: evaluate_run(read_run(runs[name]), qrels, loaded.scheme.relevant_gain, ranking).per_query
        for name in order
    }
    table = {name: {m: float(per_query[name][m].mean()) for m in METRICS} for name in order}
    tests = {}
    for name in order[1:]:
        for m in ("ndcg@10", "map"):
            tests[f"{name} vs BM25 ({m})"] = paired_comparison(per_query[name], per_query["BM25"], m)
    trained = list(ROWS)
    for a, b in itertools.pairwise(trained):
        for m in ("ndcg@10", "map"):
            tests[f"{b} vs {a} ({m})"] = paired_comparison(per_query[b], per_query[a], m)
    tests[f"{trained[2]} vs {trained[0]} (ndcg@10)"] = paired_comparison(per_query[trained[2]], per_query[trained[0]])
    results = {
        "machine": machine(),
        "queries": len(per_query["BM25"]),
        "table": table,
        "tests": tests,
        "mined": mined_info,
        "commands": commands,
        "train_args": args.train_args,
    }
    out = REPO / "bench" / "results" / "cranfield_mining.json"
    write_json(out, results)
    print("| system | " + " | ".join(METRICS) + " |")
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{row[m]:.4f}" for m in METRICS) + " |")
    for k, c in tests.items():
        print(
            f"{k}: {c['mean_difference']:+.4f} (w/t/l {c['wins']}/{c['ties']}/{c['losses']}), "
            f"t-test p {c['t_test_p']:.4f}, randomisation p {c['randomisation_p']:.4f}"
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
