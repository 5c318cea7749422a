"""``rankwright recipe``: judged queries in, the best ranking system the data supports
out, measured on held-out test queries, in one command.

The steps (split, first stage, zero-shot dense rerank, training pairs, warm-up and
supervised training, the fine-tuned bi-encoder, selection on validation, every system on
the test queries) are :mod:`rankwright.recipe.run`'s; the configuration is
:mod:`rankwright.recipe.config`'s. These names are re-exported from their old home.
"""

from __future__ import annotations

from rankwright.recipe.clock import Clock
from rankwright.recipe.config import BiEncoderConfig, FusionSearchConfig, RecipeConfig, WarmupConfig
from rankwright.recipe.prepare import Prepared, prepare, sample_queries, training_pairs
from rankwright.recipe.run import RecipeResult, _choice_summary, _phase_summary, main, run_recipe
from rankwright.recipe.shipping import _store_fusion, select_system, shipped_model
from rankwright.recipe.training import Trained, train_bi_encoder, train_reranker

__all__ = [
    "BiEncoderConfig",
    "Clock",
    "FusionSearchConfig",
    "Prepared",
    "RecipeConfig",
    "RecipeResult",
    "Trained",
    "WarmupConfig",
    "_choice_summary",
    "_phase_summary",
    "_store_fusion",
    "main",
    "prepare",
    "run_recipe",
    "sample_queries",
    "select_system",
    "shipped_model",
    "train_bi_encoder",
    "train_reranker",
    "training_pairs",
]
