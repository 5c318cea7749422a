"""What ``train`` checks before any model is loaded: that the loss, the sampling, the
calibration and early stopping can work on this data, that the device computes in the
precision asked for, and (once the tokenizer is read) that a generative prompt leaves
room for the pair; the message says what to change."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from rankwright.data.labels import LabelScheme
from rankwright.data.records import LABEL, QUERY_ID, SCORE, RelevanceData
from rankwright.evaluation.calibration import METHODS as CALIBRATION_METHODS
from rankwright.losses.base import RerankLoss
from rankwright.models.precision import why_no_bf16
from rankwright.training.config import TrainConfig
from rankwright.training.sampling import MODES

if TYPE_CHECKING:
    from rankwright.models.generative import GenerativeHead

log = logging.getLogger(__name__)

#: the fewest tokens a generative prompt must leave of ``model.max_length`` for the
#: query and the document (a short query and the start of a document)
MIN_PAIR_ROOM = 16


class TrainingSetupError(ValueError):
    """The configuration cannot train on this data; the message says what to change."""


def check_loss_fits_data(loss_name: str, loss: RerankLoss, scheme: LabelScheme, train: RelevanceData) -> None:
    """Fail before any model is loaded when the loss cannot learn from these labels."""
    if loss.label_kind == "class" and scheme.kind != "classes":
        raise TrainingSetupError(
            f"loss {loss_name!r} predicts named classes but labels.scheme is {scheme.kind!r}; use loss bce/mse/"
            "margin/listwise_ce, or set labels.scheme: classes with labels.classes"
        )
    if loss.label_kind == "target" and scheme.config.target_range is None:
        raise TrainingSetupError(
            f"loss {loss_name!r} regresses a label scaled to [0, 1]: set labels.target_range, "
            "e.g. [1, 3] for 1..3 grades"
        )
    if loss.label_kind == "target" and scheme.kind == "classes":
        raise TrainingSetupError(f"loss {loss_name!r} needs numeric labels; these are classes: use loss ce")
    if loss.label_kind == "teacher":
        scores = train.pairs.get(SCORE)
        if scores is None or scores.isna().all():
            raise TrainingSetupError(
                f"loss {loss_name!r} learns from teacher scores, but {train.report.source or 'the data'} has none: "
                "give a score column (FlagEmbedding JSONL: pos_scores/neg_scores)"
            )
        if scores.isna().any():
            log.warning(
                "%d of %d training pairs have no teacher score; %s leaves them out",
                int(scores.isna().sum()),
                len(scores),
                loss_name,
            )
    if loss.needs_positive:
        relevant = scheme.relevant(train.pairs[LABEL])
        with_pos = train.pairs.loc[relevant, QUERY_ID].nunique()
        if with_pos == 0:
            raise TrainingSetupError(
                f"loss {loss_name!r} needs at least one positive per group, but no training query has a relevant "
                f"document (relevant = gain >= {scheme.relevant_gain}); lower labels.threshold or use a pointwise loss"
            )
        missing = train.n_queries - with_pos
        if missing:
            log.info(
                "%d of %d training queries have no positive and are skipped by %s", missing, train.n_queries, loss_name
            )


def check_calibration_setup(config: TrainConfig, val: RelevanceData | None, scheme: LabelScheme) -> str | None:
    """The ``training.calibration`` method (``None``: none), checked before any model is
    loaded: it is fitted on the validation pairs, which must exist and hold both
    relevant and non-relevant pairs."""
    method = (config.training.calibration or "none").strip().lower()
    if method == "none":
        return None
    if method not in CALIBRATION_METHODS:
        raise TrainingSetupError(
            f"training.calibration must be one of {CALIBRATION_METHODS} or none, got {config.training.calibration!r}"
        )
    if val is None:
        raise TrainingSetupError(
            f"training.calibration {method!r} is fitted on validation queries, but there are none "
            f"(split.ratios {config.split.ratios} gives the validation split no query): give val_path or a "
            "validation share in split.ratios (e.g. [0.7, 0.15, 0.15]), or set training.calibration none"
        )
    relevant = np.asarray(scheme.relevant(val.pairs[LABEL]), dtype=bool)
    if relevant.all() or not relevant.any():
        kind = "relevant" if relevant.all() else "non-relevant"
        raise TrainingSetupError(
            f"training.calibration needs relevant and non-relevant validation pairs, but all {len(relevant)} "
            f"validation pairs are {kind}"
        )
    return method


def check_schedule_setup(config: TrainConfig) -> None:
    """The schedule, before any model is loaded: some training at all (``epochs`` > 0,
    or ``max_steps`` > 0, which wins), ``grad_accum`` >= 1, ``learning_rate`` >= 0 (0:
    the weights stay, e.g. to measure validation alone), and ``warmup_ratio`` a share of
    the steps, 0 <= r < 1 (transformers takes a value of 1 or more as warm-up steps)."""
    t = config.training
    if t.max_steps <= 0 and t.epochs <= 0:
        raise TrainingSetupError(
            f"training.epochs {t.epochs} with training.max_steps {t.max_steps} trains nothing: give epochs > 0, or "
            "max_steps > 0 (it wins over epochs)"
        )
    if t.grad_accum < 1:
        raise TrainingSetupError(f"training.grad_accum must be at least 1, got {t.grad_accum}")
    if t.learning_rate < 0:
        raise TrainingSetupError(f"training.learning_rate cannot be negative, got {t.learning_rate}")
    ratio = t.warmup_ratio
    if not 0 <= ratio < 1:
        raise TrainingSetupError(
            f"training.warmup_ratio is the share of the steps spent warming up, 0 <= ratio < 1, got {ratio}"
        )


def check_best_metric(config: TrainConfig) -> None:
    """``training.metric_for_best_model`` must be a metric validation computes (one of
    ``metrics.*``, or its ``_informative`` mean): otherwise ``best/`` would never be saved."""
    from rankwright.evaluation.ranking import measure_names

    names = list(measure_names(config.metrics, 1))
    valid = [*names, *(f"{n}_informative" for n in names)]
    metric = config.training.metric_for_best_model.removeprefix("eval_")
    if metric not in valid:
        raise TrainingSetupError(
            f"training.metric_for_best_model {config.training.metric_for_best_model!r} is not a validation metric "
            f"with these metrics.* settings: choose one of {', '.join(valid)}"
        )


def check_early_stopping_setup(config: TrainConfig, val: RelevanceData | None) -> None:
    """``training.early_stopping_*``, checked before any model is loaded: stopping
    follows the validation metric, so validation must run."""
    t = config.training
    if t.early_stopping_patience is None:
        return
    if t.early_stopping_patience < 1:
        raise TrainingSetupError(
            f"training.early_stopping_patience must be at least 1 (evaluations without improvement), "
            f"got {t.early_stopping_patience}; leave it unset to train to the end"
        )
    if t.early_stopping_threshold < 0:
        raise TrainingSetupError(
            f"training.early_stopping_threshold is a minimum improvement and cannot be negative, "
            f"got {t.early_stopping_threshold}"
        )
    if t.eval_strategy == "no":
        raise TrainingSetupError(
            "training.early_stopping_patience follows the validation metric, but training.eval_strategy is 'no': "
            "set eval_strategy epoch or steps (with eval_steps), or unset early_stopping_patience"
        )
    if val is None:
        raise TrainingSetupError(
            f"training.early_stopping_patience follows {t.metric_for_best_model} on validation queries, but there "
            f"are none (split.ratios {config.split.ratios} gives the validation split no query): give val_path or "
            "a validation share in split.ratios (e.g. [0.7, 0.15, 0.15]), or unset early_stopping_patience"
        )


def check_sampling_setup(config: TrainConfig, loss: RerankLoss, model_type: str) -> bool:
    """Whether examples are groups of a query's documents (``sampling.mode``, or the
    loss's own choice under ``auto``), checked against the loss and the model type."""
    if loss.label_kind == "teacher" and config.sampling.hard_ratio < 1:
        raise TrainingSetupError(
            f"loss {config.loss.name!r} learns from teacher scores, which random negatives do not have: "
            "set sampling.hard_ratio 1 (the listed negatives only)"
        )
    if config.sampling.mode not in MODES:
        raise TrainingSetupError(f"sampling.mode must be one of {MODES}, got {config.sampling.mode!r}")
    grouped = loss.grouped if config.sampling.mode == "auto" else config.sampling.mode == "groups"
    if loss.grouped and not grouped:
        raise TrainingSetupError(f"loss {config.loss.name!r} compares documents of a group: use sampling.mode groups")
    if model_type not in ("cross-encoder", "generative"):
        raise TrainingSetupError(f"model.type must be cross-encoder, generative or bi-encoder, got {model_type!r}")
    return grouped


def check_precision_setup(config: TrainConfig) -> None:
    """``training.bf16``, checked before any model is loaded: the Trainer's mixed
    precision needs a device that computes in bfloat16 (on a CPU transformers does not
    check, and training would fail in its first step)."""
    if not config.training.bf16:
        return
    problem = why_no_bf16()
    if problem is not None:
        raise TrainingSetupError(
            f"training.bf16 is true, but {problem}: set training.bf16 false to train in float32 "
            "(or fp16 true on a CUDA GPU), or train on a device with bfloat16"
        )


def check_prompt_room(head: GenerativeHead, max_length: int) -> None:
    """A generative ``head``'s fixed tokens (prefix, the body without query and document,
    suffix), checked before training: they must leave at least :data:`MIN_PAIR_ROOM` of
    ``max_length`` for the query and the document (the prompt is never cut, so a pair
    would otherwise be scored on the prompt alone)."""
    fixed = head.pair_overhead
    if max_length - fixed >= MIN_PAIR_ROOM:
        return
    body = fixed - len(head.prefix_ids) - len(head.suffix_ids)
    raise TrainingSetupError(
        f"model.max_length {max_length} leaves {max_length - fixed} tokens for the query and the document: the "
        f"prompt (template {head.prompt.template!r}) takes {fixed} tokens of every pair ({len(head.prefix_ids)} "
        f"prefix with the system text, {body} body with the instruction, {len(head.suffix_ids)} suffix), and at "
        f"least {MIN_PAIR_ROOM} must remain: set model.max_length {fixed + MIN_PAIR_ROOM} or more, or shorten the "
        "prompt (model.prompt.instruction, system or body; prefix and suffix with template custom)"
    )
