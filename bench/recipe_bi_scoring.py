"""The recipe's fine-tuned bi-encoder after training: scoring the validation and test
candidates, then retrieving the top k of the corpus. "separate" loads the folder twice
and encodes every text each time (the recipe before its encoder kept its embeddings);
"kept" is the recipe's path now (one encoder, embeddings kept in memory, each distinct
text encoded once). Both in one process, on the same prepared data, separate first.
Records seconds, the largest score difference and whether the retrieved runs are equal.

    python bench/recipe_bi_scoring.py --config configs/cranfield_recipe.yaml \\
        --data ../shared/data/cranfield --model runs/bench_recipe/cranfield_budget15m/bi_encoder/best
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import yaml

from rankwright.config import from_dict
from rankwright.inference.reranker import Reranker
from rankwright.recipe import RecipeConfig
from rankwright.recipe.prepare import prepare
from rankwright.recipe.retrieval_stage import bi_encoder_retrieval
from rankwright.recipe.run import model_scores


def run(config, prep, model_dir: str, kept: bool):
    started = time.perf_counter()
    if kept:
        biencoder = Reranker.from_pretrained(model_dir)
        biencoder.encoder.keep_embeddings()
        scores = model_scores(config, prep.ranked, biencoder)
        retrieval = bi_encoder_retrieval(config, prep, model_dir, biencoder.encoder)
    else:
        scores = model_scores(config, prep.ranked, model_dir)
        retrieval = bi_encoder_retrieval(config, prep, model_dir)
    return time.perf_counter() - started, scores, retrieval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True, help="a fine-tuned bi-encoder folder")
    parser.add_argument("--embedding-cache", default="runs/bench_recipe/embedding_cache", help="the zero-shot model's")
    parser.add_argument("--out", type=Path, default=Path("bench/results/recipe_bi_scoring.json"))
    args = parser.parse_args()
    raw = yaml.safe_load(Path(args.config).read_text())
    raw["data"]["path"] = args.data
    raw |= {"progress": False, "dense": {"cache_dir": args.embedding_cache}}
    config = from_dict(RecipeConfig, raw)
    prep = prepare(config)
    separate_s, separate, separate_run = run(config, prep, args.model, kept=False)
    kept_s, kept, kept_run = run(config, prep, args.model, kept=True)
    result = {
        "config": args.config,
        "model": args.model,
        "candidates": {name: len(prep.ranked[name]) for name in ("val", "test")},
        "corpus": len(prep.first.documents) if prep.first.over_corpus else None,
        "separate_s": round(separate_s, 2),
        "kept_s": round(kept_s, 2),
        "speedup": round(separate_s / kept_s, 2),
        "max_score_difference": max(float(np.abs(separate[p] - kept[p]).max()) for p in ("val", "test")),
    }
    if separate_run is not None:
        a, b = separate_run.runs["test"], kept_run.runs["test"]
        result["same_ranking"] = bool(a[["query_id", "doc_id"]].equals(b[["query_id", "doc_id"]]))
        result["validation"] = {"separate": separate_run.validation, "kept": kept_run.validation}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
