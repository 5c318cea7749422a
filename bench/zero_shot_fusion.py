"""A stricter baseline for a recipe run than either zero-shot component alone: the best
fusion of the first stage and the zero-shot dense rerank *without any fine-tuned model*,
chosen on the run's validation queries (its selection.csv holds every candidate's
validation nDCG@10), applied to the test candidates and paired against the selected
system over the test queries.

    python bench/zero_shot_fusion.py runs/bench_recipe/cranfield_bistart [...]

Writes bench/results/recipe_zero_shot_fusion.json (one entry per run folder)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, write_json


def compare(run_dir: Path) -> dict:
    from rankwright.config import from_dict
    from rankwright.data.loading import load_data
    from rankwright.data.readers import read_run
    from rankwright.data.records import SCORE
    from rankwright.data.split import split_data
    from rankwright.evaluation.evaluate import judged_qrels
    from rankwright.evaluation.ranking import RankingConfig, evaluate_run
    from rankwright.evaluation.significance import paired_comparison
    from rankwright.inference.fusion import fuse
    from rankwright.recipe import RecipeConfig
    from rankwright.recipe.selection import best_zero_shot_candidate

    recipe = json.loads((run_dir / "recipe.json").read_text())
    config = from_dict(RecipeConfig, recipe["config"])
    loaded = load_data(config)
    test = split_data(loaded.full, config.split)["test"]
    qrels = judged_qrels(test, loaded.scheme)
    best = best_zero_shot_candidate(pd.read_csv(run_dir / "selection.csv"))
    runs = sorted((run_dir / "runs").glob("*.trec"))
    first, dense = (read_run(next(r for r in runs if r.name.startswith(f"{i}_"))) for i in (0, 1))
    selected = read_run(runs[-1])
    both = first.merge(dense, on=["query_id", "doc_id"], suffixes=("_first", "_dense"))
    method = best["method"] if isinstance(best["method"], str) else "minmax"
    weights = {"first_stage": float(best.get("first_stage") or 0), "dense": float(best.get("dense") or 0)}
    scores = fuse(
        {"first_stage": both["score_first"].to_numpy(), "dense": both["score_dense"].to_numpy()},
        both["query_id"].tolist(),
        {"method": method, "weights": weights},
    )
    metrics = RankingConfig(ndcg_at=[10], precision_at=[], recall_at=[])
    relevant = loaded.scheme.relevant_gain
    zero_shot = evaluate_run(both.assign(**{SCORE: scores}), qrels, relevant, metrics).per_query
    chosen = evaluate_run(selected, qrels, relevant, metrics).per_query
    out = {
        "run": run_dir.name,
        "selected": recipe["selection"]["chosen"],
        "zero_shot_fusion": str(best["candidate"]),
        "zero_shot_fusion_validation": float(best["ndcg@10"]),
        "selected_validation": recipe["selection"]["validation"]["selected"],
        "test": {"zero_shot_fusion": float(zero_shot["ndcg@10"].mean()), "selected": float(chosen["ndcg@10"].mean())},
    }
    for metric in ("ndcg@10", "map"):
        out[metric] = paired_comparison(chosen, zero_shot, metric)
    return out


def main() -> None:
    rows = [compare(Path(p)) for p in sys.argv[1:]]
    for r in rows:
        c = r["ndcg@10"]
        print(
            f"{r['run']}: selected ({r['selected']}) {r['test']['selected']:.4f} vs best zero-shot fusion on "
            f"validation ({r['zero_shot_fusion']}) {r['test']['zero_shot_fusion']:.4f}: {c['mean_difference']:+.4f} "
            f"nDCG@10, randomisation p {c['randomisation_p']:.4f}, t-test p {c['t_test_p']:.4f}"
        )
    write_json(REPO / "bench" / "results" / "recipe_zero_shot_fusion.json", rows)


if __name__ == "__main__":
    main()
