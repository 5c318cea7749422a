"""The recipe's training: the fine-tuned bi-encoder, then the cross-encoder's warm-up and
supervised phases (:mod:`rankwright.recipe.phases`), and which cross-encoder is kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from rankwright.recipe.budget import RecipePlan
from rankwright.recipe.clock import Clock
from rankwright.recipe.config import RecipeConfig
from rankwright.recipe.phases import PhaseInputs, RerankerChoice, fine_tune_bi_encoder, supervised, warm_up
from rankwright.training.run import TrainResult

log = logging.getLogger(__name__)


@dataclass
class Trained:
    warmup: TrainResult | None
    kept: TrainResult  # the reranker the selection uses
    choice: RerankerChoice | None  # after a warm-up: the cross-encoders that competed and which is kept
    biencoder: TrainResult | None = None  # the fine-tuned bi-encoder


def train_reranker(
    config: RecipeConfig,
    inputs: PhaseInputs,
    has_teacher: bool,
    clock: Clock,
    plan: RecipePlan,
    biencoder: TrainResult | None = None,
) -> Trained:
    """The warm-up (when enabled and there is a teacher), then the supervised phase; with
    ``warmup.choose``, the supervised phase from the base encoder too, and with
    ``bi_encoder.warm_start`` from the fine-tuned ``biencoder``'s encoder. Of the runs
    and the warm-up model itself, the one with the highest validation nDCG@10 is kept."""
    out = Path(config.output_dir)
    warm = None
    if config.warmup.enabled and not has_teacher:
        log.warning("warmup: no dense teacher (dense.model none), so no warm-up phase")
    elif plan.runs("warmup"):
        warm = warm_up(inputs, config.warmup, out / "warmup", plan.phase_budget("warmup"))
    clock.lap("warmup")
    start_from = config.model.name if warm is None else warm.model_dir
    trained = supervised(inputs, start_from, config.loss, out / "reranker", budget_s=plan.phase_budget("supervised"))
    clock.lap("supervised")
    runs = {"with_warmup" if warm is not None else "without_warmup": trained}
    if warm is not None:
        runs["warmup_only"] = warm
        if plan.runs("supervised_without_warmup"):
            runs["without_warmup"] = supervised(
                inputs,
                config.model.name,
                config.loss,
                out / "reranker_without_warmup",
                budget_s=plan.phase_budget("supervised_without_warmup"),
            )
            clock.lap("supervised_without_warmup")
    if biencoder is not None and plan.runs("from_biencoder"):
        start = biencoder.model_dir
        runs["from_biencoder"] = supervised(
            inputs,
            start,
            config.loss,
            out / "reranker_from_biencoder",
            "cross-encoder",
            budget_s=plan.phase_budget("from_biencoder"),
        )
        clock.lap("supervised_from_biencoder")
    if len(runs) == 1:
        return Trained(warm, trained, None, biencoder)
    choice = RerankerChoice(runs)
    log.info("%s", choice.message())
    return Trained(warm, choice.kept, choice, biencoder)


def train_bi_encoder(config: RecipeConfig, inputs: PhaseInputs, clock: Clock, plan: RecipePlan) -> TrainResult | None:
    """The dense model fine-tuned as a bi-encoder (when enabled, there is a dense model and
    ``plan`` runs it)."""
    if not config.bi_encoder.enabled:
        return None
    if not config.dense_enabled:
        log.warning("bi_encoder: no dense model (dense.model none) to fine-tune, so no bi-encoder phase")
        return None
    if not plan.runs("bi_encoder"):  # a budget skipped it
        return None
    result = fine_tune_bi_encoder(
        inputs,
        config.bi_encoder,
        config.dense.model,
        Path(config.output_dir) / "bi_encoder",
        plan.phase_budget("bi_encoder"),
    )
    clock.lap("bi_encoder")
    return result
