"""Does `rankwright recipe` ever lose to its first stage? The one command on Cranfield
(BM25 top 100 from the corpus) and on Home Depot with 50, 500 and all training queries
(BM25 over each query's given candidates). The default recipe trains the reranker
with and without the teacher warm-up and keeps the one with the better validation
nDCG@10 (``warmup.choose``); the other one is a row of the test table, so every default
run is also the warm-up ablation. The ``*_nowarm`` scenarios train without the warm-up
only. The "without fusion" ablation is the fine-tuned reranker row of every run (the
reranker alone, on the same test queries).

Each scenario is one `rankwright recipe` process; its recipe.json holds the test table
(first stage, zero-shot dense rerank, fine-tuned reranker, selected system), the
validation scores that chose the selected system, and paired tests (t-test and
randomisation over test queries). Each scenario is written to
bench/results/recipe/<name>.json, so scenarios can run in separate processes.

    python bench/recipe.py                      # every scenario (hours on 2 CPU cores)
    python bench/recipe.py --only hd50,hd50_nowarm
    python bench/recipe.py --only movielens     # interactions: bench/movielens_reranker.py

MovieLens (interactions, ``rankwright pairs``) is not a ``rankwright recipe`` run: the
``movielens`` scenario runs ``bench/movielens_reranker.py`` (pairs, train, and the
selection among the model, popularity and their fusions), which writes
bench/results/movielens_reranker.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, machine, timed_run, write_json

CRANFIELD = ["--config", "configs/cranfield_recipe.yaml", "--data.path", str(SHARED_DATA / "cranfield")]
HOMEDEPOT = ["--config", "configs/homedepot_recipe.yaml", "--data.path", str(SHARED_DATA / "homedepot/train.csv.zip")]
NO_WARMUP = ["--warmup.enabled", "false"]

SCENARIOS: dict[str, list[str]] = {
    "cranfield": CRANFIELD,
    "cranfield_nowarm": CRANFIELD + NO_WARMUP,
    # the cross-encoder also trained from the fine-tuned bi-encoder's encoder (one more competitor)
    "cranfield_bistart": [*CRANFIELD, "--bi_encoder.warm_start", "true"],
    # the same recipe within a time budget (the plan skips and cuts phases to fit)
    "cranfield_budget5m": [*CRANFIELD, "--budget", "5m"],
    "cranfield_budget8m": [*CRANFIELD, "--budget", "8m"],
    "cranfield_budget15m": [*CRANFIELD, "--budget", "15m"],
    "hd500_bistart": [*HOMEDEPOT, "--train_queries", "500", "--bi_encoder.warm_start", "true"],
    "hd50": [*HOMEDEPOT, "--train_queries", "50"],
    "hd50_nowarm": [*HOMEDEPOT, "--train_queries", "50", *NO_WARMUP],
    "hd500": [*HOMEDEPOT, "--train_queries", "500"],
    "hd500_nowarm": [*HOMEDEPOT, "--train_queries", "500", *NO_WARMUP],
    # hd500's arguments, run with the fine-tuned bi-encoder phase (on by default since hd500 ran)
    "hd500_bi": [*HOMEDEPOT, "--train_queries", "500"],
    # 7,076 training queries: one supervised epoch, a fifth of an epoch of warm-up (CPU time)
    "hdall": [*HOMEDEPOT, "--training.epochs", "1", "--warmup.epochs", "0.2"],
    "hdall_nowarm": [*HOMEDEPOT, "--training.epochs", "1", *NO_WARMUP],
    # all queries with the fine-tuned bi-encoder as a candidate: one epoch of each model and
    # no second supervised run (warmup.choose), to fit an hour of 2-core CPU time
    "hdall_bi": [
        *HOMEDEPOT,
        *("--training.epochs", "1", "--warmup.epochs", "0.2", "--warmup.choose", "false", "--bi_encoder.epochs", "1"),
    ],
    # all queries, MSE on the graded gain (the best Home Depot loss in train_homedepot.py),
    # up to 2 supervised epochs (early stopping keeps the better one)
    "hdall_mse": [*HOMEDEPOT, "--loss.name", "mse", "--training.epochs", "2", "--warmup.epochs", "0.2"],
}
RESULTS = REPO / "bench" / "results" / "recipe"


def run_scenario(name: str, args: list[str], out_root: Path, extra: list[str], reuse: bool) -> dict:
    out = out_root / name
    cache = ["--dense.cache_dir", str(out_root / "embedding_cache")]  # scenarios share the dense embeddings
    command = ["rankwright", "recipe", *args, *cache, *extra, "--output_dir", str(out), "--progress", "false"]
    command += ["--overwrite", "true"]  # a rerun replaces the scenario's earlier results
    if reuse and (out / "recipe.json").exists():
        print(f"reusing {out / 'recipe.json'}", flush=True)
        seconds = None
    else:
        print("$", shlex.join(command), flush=True)
        seconds = round(timed_run(command, cwd=REPO), 1)
    recipe = json.loads((out / "recipe.json").read_text())
    test = recipe["test"]
    return {
        "command": shlex.join(command),
        "wall_seconds": seconds,  # None: an earlier run's output was reused (--reuse)
        "peak_rss_mib_children": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "queries": recipe["queries"],
        "training_pairs": recipe["training_pairs"],
        "selected": recipe["selection"]["chosen"],
        "uses_reranker": recipe["selection"]["uses_reranker"],
        "uses_biencoder": recipe["selection"].get("uses_biencoder", False),
        "validation": recipe["selection"]["validation"],
        "messages": recipe["selection"]["messages"],
        "test": {name: s["all"] for name, s in test["ranking"].items()},
        "paired_tests": test["paired_tests"],
        "warmup": recipe["warmup"],
        "warmup_choice": recipe.get("warmup_choice"),
        "supervised": recipe["supervised"],
        "bi_encoder": recipe.get("bi_encoder"),
        "seconds": recipe["seconds"],
        "plan": recipe.get("plan"),  # the probe's estimates, what a budget skipped
        "total_s": recipe.get("total_s"),
    }


def _warmup_cell(s: dict) -> str:
    """The kept cross-encoder and each competitor's validation nDCG@10; on or off for a
    run without a choice."""
    from rankwright.recipe.phases import ROW_NAMES

    choice = s.get("warmup_choice")
    if choice:
        v = choice["validation"]
        scores = ", ".join(f"{ROW_NAMES[k]} {value:.4f}" for k, value in v.items())
        return f"kept {ROW_NAMES[choice['kept']]} ({scores})"
    return "on, no choice" if s.get("warmup") else "off"


def markdown() -> str:
    """The BENCHMARKS.md tables from the result files: test nDCG@10/MAP per system, and
    the selected system's and the reranker's paired tests against the best baseline."""
    lines = [
        "| scenario | train queries | cross-encoder kept (validation nDCG@10) | selected on validation "
        "| first stage | dense rerank | fine-tuned reranker | fine-tuned bi-encoder | selected "
        "| selected - best baseline (p) | reranker - first stage (p) | bi-encoder - dense (p) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        s = json.loads(path.read_text())
        test = s["test"]
        names = list(test)
        cell = {n: f"{test[n]['ndcg@10']:.4f} / {test[n]['map']:.4f}" for n in names}
        dense = next((cell[n] for n in names if n.startswith("dense")), "-")
        tests = [c for c in s["paired_tests"] if c["metric"] == "ndcg@10"]
        best = next(c for c in tests if c["system"] == names[-1] and c["best_baseline"])
        rr = next(c for c in tests if c["system"] == "fine-tuned reranker" and c["baseline"] == names[0])
        bi = next(
            (c for c in tests if c["system"] == "fine-tuned bi-encoder" and c["baseline"].startswith("dense")), None
        )
        bi_cell = f"{bi['mean_difference']:+.4f} ({bi['randomisation_p']:.4f})" if bi else "-"
        lines.append(
            f"| {path.stem} | {s['queries']['train']} | {_warmup_cell(s)} | {s['selected']} "
            f"| {cell[names[0]]} | {dense} "
            f"| {cell['fine-tuned reranker']} | {cell.get('fine-tuned bi-encoder', '-')} | {cell[names[-1]]} "
            f"| {best['mean_difference']:+.4f} vs {best['baseline']} ({best['randomisation_p']:.4f}) "
            f"| {rr['mean_difference']:+.4f} ({rr['randomisation_p']:.4f}) | {bi_cell} |"
        )
    return "\n".join(lines)


def _rows(path: Path) -> dict:
    """run row name -> its per-query metrics, from a recipe's per_query.csv."""
    import pandas as pd

    table = pd.read_csv(path, dtype={"query_id": str}).set_index("query_id")
    names = dict.fromkeys(c.rsplit(":", 1)[0] for c in table.columns if c.endswith(":ndcg@10"))
    return {n: table[[f"{n}:{m}" for m in ("ndcg@10", "map")]].set_axis(["ndcg@10", "map"], axis=1) for n in names}


def warmup_ablation(out_root: Path) -> list[dict]:
    """The kept cross-encoder against each one the reranker choice did not keep (the
    supervised run with or without the teacher warm-up, the warm-up model alone), paired
    over the same test queries within one default run; without such rows, a scenario's
    run against its ``_nowarm`` run under ``out_root``."""
    from rankwright.evaluation.significance import paired_comparison
    from rankwright.recipe.heldout import NOT_KEPT, RERANKER_ROW

    rows = []
    for name in SCENARIOS:
        run, cold = out_root / name / "per_query.csv", out_root / f"{name}_nowarm" / "per_query.csv"
        if name.endswith("_nowarm") or not run.exists():
            continue
        systems = _rows(run)
        kept = systems[RERANKER_ROW]
        pairs = [(kept, per_query, f"kept - {row}") for row, per_query in systems.items() if row.endswith(NOT_KEPT)]
        if not pairs and cold.exists():
            pairs = [(kept, _rows(cold)[RERANKER_ROW], f"{name} - {name}_nowarm")]
        for a, b, source in pairs:
            for metric in ("ndcg@10", "map"):
                c = paired_comparison(a, b, metric)
                rows.append({"scenario": name, "source": source, "metric": metric, **c})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join([*SCENARIOS, "movielens"]), help="comma-separated scenario names")
    parser.add_argument("--out", default=str(REPO / "runs" / "bench_recipe"), help="output folder of the runs")
    parser.add_argument("--table", action="store_true", help="print the markdown tables of the results and exit")
    parser.add_argument("--reuse", action="store_true", help="read a scenario's recipe.json if it is already there")
    parser.add_argument(
        "--ablation", action="store_true", help="test the reranker with vs without warm-up (runs under --out) and exit"
    )
    parser.add_argument("extra", nargs="*", help="more recipe flags for every scenario (after --)")
    args = parser.parse_args()
    if args.table:
        print(markdown())
        return
    if args.ablation:
        rows = warmup_ablation(Path(args.out))
        write_json(RESULTS.parent / "recipe_warmup_ablation.json", rows)
        for r in rows:
            print(
                f"{r['scenario']} {r['metric']}: {r['source']} {r['mean_difference']:+.4f} "
                f"(randomisation p {r['randomisation_p']:.4f}, t-test p {r['t_test_p']:.4f})"
            )
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in args.only.split(","):
        if name == "movielens":
            timed_run([sys.executable, str(REPO / "bench" / "movielens_reranker.py"), "--batch-size", "16"], cwd=REPO)
            continue
        s = run_scenario(name, SCENARIOS[name], Path(args.out), args.extra, args.reuse)
        s["machine"] = machine()
        write_json(RESULTS / f"{name}.json", s)
        scores = ", ".join(f"{k} {v['ndcg@10']:.4f}" for k, v in s["test"].items())
        print(f"{name}: selected {s['selected']}; test nDCG@10 {scores}", flush=True)


if __name__ == "__main__":
    main()
