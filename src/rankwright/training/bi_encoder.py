"""``train`` with ``model.type: bi-encoder``: fine-tune a sentence-embedding model as a
reranker whose score is the cosine of the query and document embeddings.

The library made for it does the training: sentence-transformers'
``SentenceTransformerTrainer`` with ``MultipleNegativesRankingLoss`` (``loss.name:
mnrl``) or its memory-bounded ``CachedMultipleNegativesRankingLoss`` (``cached_mnrl``).
Each training row is (query, one judged positive, k negatives): the query's own
non-relevant documents (mined or judged) first, topped up with random documents of
other queries, drawn once from a generator seeded by ``training.seed``. Every other
document of the batch is an in-batch negative too, and the batch sampler keeps a text
from appearing twice in one batch (no false in-batch negatives from duplicates).

Validation is rankwright's own: the fixed validation pairs are scored by cosine and
evaluated with trec_eval's conventions; ``best/`` is the best evaluation by
``training.metric_for_best_model``, with the same early stopping as cross-encoders.
``best/`` and ``final/`` are sentence-transformers folders (``SentenceTransformer(path)``
loads them) with ``rankwright.json``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rankwright.data.labels import LabelScheme
from rankwright.data.records import DOC, LABEL, QUERY, QUERY_ID, RelevanceData
from rankwright.evaluation.report import write_json
from rankwright.evaluation.training_report import validation_per_evaluation, write_training_report
from rankwright.models.loading import resolve_model_path
from rankwright.models.metadata import ModelMetadata
from rankwright.training.config import TrainConfig
from rankwright.training.console import quiet_console

log = logging.getLogger(__name__)

LOSSES = ("mnrl", "cached_mnrl")
#: options of the cross-encoder and generative paths that sentence-transformers' trainer
#: does not use: set to anything but their default, they are refused
IGNORED = {
    "sampling": ("mode", "hard_ratio", "max_group_size", "max_pairs", "length_grouping", "length_buckets", "packing"),
    "model": ("dtype", "attn_implementation"),
}


def ignored_options(config: TrainConfig) -> list[str]:
    """``section.option value`` of each :data:`IGNORED` option set to other than its default."""
    from rankwright.training.config import ModelConfig, SamplingConfig

    defaults = {"sampling": SamplingConfig(), "model": ModelConfig()}
    return [
        f"{section}.{name} {getattr(getattr(config, section), name)!r}"
        for section, names in IGNORED.items()
        for name in names
        if getattr(getattr(config, section), name) != getattr(defaults[section], name)
    ]


def check_bi_encoder_config(config: TrainConfig, scheme: LabelScheme) -> None:
    """Fail before any model is loaded on what a bi-encoder cannot train."""
    from rankwright.training.checks import TrainingSetupError

    if scheme.kind == "classes" or config.loss.name == "ce":
        raise TrainingSetupError(
            "model.type bi-encoder scores a pair by one cosine, so it cannot predict named classes "
            f"(labels.scheme {scheme.kind!r}, loss {config.loss.name!r}): use labels.scheme binary or graded with "
            "loss mnrl, or model.type cross-encoder for classes"
        )
    if config.loss.name not in LOSSES:
        raise TrainingSetupError(
            f"model.type bi-encoder trains with in-batch negatives: loss.name must be one of {LOSSES} "
            f"(sentence-transformers' MultipleNegativesRankingLoss, or its cached form), got {config.loss.name!r}"
        )
    if config.lora.quantize:
        raise TrainingSetupError(
            "lora.quantize (QLoRA) is for cross-encoders and generative models: a bi-encoder trains LoRA adapters on "
            "its full-precision weights (lora.enabled true, lora.quantize null)"
        )
    if config.lora.enabled and config.training.resume:
        raise TrainingSetupError(
            "training.resume with lora.enabled: a LoRA bi-encoder cannot resume (sentence-transformers' trainer "
            "loads a checkpoint into the plain encoder, not into the peft-wrapped one); train it again from the "
            "start (training.resume false, overwrite true), or train all weights (lora.enabled false)"
        )
    ignored = ignored_options(config)
    if ignored:
        raise TrainingSetupError(
            f"model.type bi-encoder trains with sentence-transformers' trainer, which does not use "
            f"{', '.join(ignored)}: remove them (they are the cross-encoders' and generative models' options; a "
            "bi-encoder's rows are set by sampling.negatives_per_group and sampling.positives_per_group)"
        )
    if config.training.grad_accum != 1 and config.loss.name == "mnrl":
        log.warning(
            "training.grad_accum %d does not add in-batch negatives with loss mnrl; cached_mnrl with a larger "
            "batch_size does",
            config.training.grad_accum,
        )


def training_rows(
    pairs: pd.DataFrame, scheme: LabelScheme, negatives: int, positives_per_query: int, seed: int
) -> tuple[dict[str, list[str]], int]:
    """Columns ``anchor, positive, negative_1..k`` (one row per kept positive) and the
    number of queries skipped for having no relevant document."""
    rng = np.random.default_rng(seed)
    relevant = np.asarray(scheme.relevant(pairs[LABEL]), dtype=bool)
    frame = pairs.assign(_relevant=relevant)
    pool = np.array(sorted(set(frame[DOC])), dtype=object)
    columns: dict[str, list[str]] = {"anchor": [], "positive": []}
    columns |= {f"negative_{i + 1}": [] for i in range(negatives)}
    skipped = 0
    for _, group in frame.groupby(QUERY_ID, sort=True):
        texts = set(group[DOC])
        positives = sorted(set(group.loc[group["_relevant"], DOC]))
        own = sorted(set(group.loc[~group["_relevant"], DOC]) - set(positives))
        if not positives:
            skipped += 1
            continue
        if 0 < positives_per_query < len(positives):
            positives = sorted(rng.choice(positives, size=positives_per_query, replace=False).tolist())
        for positive in positives:
            chosen = _negatives(own, pool, texts, negatives, rng)
            columns["anchor"].append(str(group[QUERY].iloc[0]))
            columns["positive"].append(positive)
            for i, text in enumerate(chosen):
                columns[f"negative_{i + 1}"].append(text)
    return columns, skipped


def _negatives(own: list[str], pool: np.ndarray, exclude: set[str], k: int, rng: np.random.Generator) -> list[str]:
    """``k`` negatives: the query's own first (a seeded sample), then random documents of
    the pool that are not the query's."""
    chosen = rng.choice(own, size=min(k, len(own)), replace=False).tolist() if own and k else []
    while len(chosen) < k:
        text = str(pool[rng.integers(len(pool))])
        if text not in exclude and text not in chosen:
            chosen.append(text)
        elif len(pool) <= len(exclude) + len(chosen):
            raise ValueError("not enough documents outside the query's own to draw random negatives from")
    return chosen


def _loss(config: TrainConfig, model):
    try:
        from sentence_transformers.sentence_transformer import losses
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers import losses

    params = dict(config.loss.params)
    if config.loss.name == "cached_mnrl":
        return losses.CachedMultipleNegativesRankingLoss(model, **params)
    return losses.MultipleNegativesRankingLoss(model, **params)


def _save(model, metadata: ModelMetadata, folder: Path, extra: dict[str, Any] | None = None) -> None:
    from rankwright.training.result import finish_folder

    folder.mkdir(parents=True, exist_ok=True)
    if hasattr(model[0].model, "peft_config"):
        _save_lora(model, folder)
    else:
        model.save(str(folder))
    finish_folder(folder, metadata, extra)


@dataclass
class _BiRun:
    """A bi-encoder training run's pieces: the model, its Trainer and callbacks."""

    model: Any
    metadata: ModelMetadata
    trainer: Any  # sentence-transformers' SentenceTransformerTrainer
    validation: Any  # ValidationSet | None
    saver: Any  # SaveBestCallback
    stopper: Any  # EarlyStopCallback | None
    clock: Any  # ValidationClock
    out: Path
    resumed_from: str | None = None  # the checkpoint training resumed from (training.resume)


def train_bi_encoder(
    config: TrainConfig,
    train_data: RelevanceData,
    val_data: RelevanceData | None,
    scheme: LabelScheme,
    callbacks: list | None = None,
):
    """Fine-tune ``config.model.name`` (a sentence-transformers model, or any encoder:
    sentence-transformers then adds mean pooling and says so) on ``train_data``."""
    from transformers import set_seed

    from rankwright.training.baselines import check_against_baselines, pair_documents
    from rankwright.training.result import TrainResult
    from rankwright.training.run import resume_checkpoint

    started = time.perf_counter()
    check_bi_encoder_config(config, scheme)
    rows, skipped = _rows(config, train_data, scheme)
    set_seed(config.training.seed)
    run = _trainer(config, train_data, val_data, scheme, rows, callbacks)
    run.resumed_from = resume_checkpoint(config, run.out, [run.saver, run.stopper])
    train_start = time.perf_counter()
    output = run.trainer.train(resume_from_checkpoint=run.resumed_from)
    train_seconds = time.perf_counter() - train_start
    summary = _summary(config, run, output, train_seconds, rows, skipped, started)
    documents = pair_documents(train_data, val_data)
    summary["baselines"] = check_against_baselines(run.saver, run.validation, documents, config.progress)
    final_dir = _files(run, summary)
    log.info(
        "bi-encoder trained in %.1f s (%d steps); final model: %s%s",
        train_seconds,
        output.global_step,
        final_dir,
        f", best: {run.out / 'best'}" if run.saver.best is not None else "",
    )
    best = str(run.out / "best") if run.saver.best is not None else None
    return TrainResult(str(run.out), best, str(final_dir), summary)


def _rows(config: TrainConfig, train_data: RelevanceData, scheme: LabelScheme) -> tuple[dict[str, list[str]], int]:
    """The training rows (see :func:`training_rows`); none is a setup error."""
    from rankwright.training.checks import TrainingSetupError

    rows, skipped = training_rows(
        train_data.pairs,
        scheme,
        config.sampling.negatives_per_group,
        config.sampling.positives_per_group,
        config.training.seed,
    )
    if not rows["anchor"]:
        raise TrainingSetupError("no training rows: no training query has a relevant document")
    log.info(
        "bi-encoder training rows: %d (query, positive, %d negatives); %d queries without a positive skipped",
        len(rows["anchor"]),
        config.sampling.negatives_per_group,
        skipped,
    )
    return rows, skipped


def _used(train_data: RelevanceData, scheme: LabelScheme) -> tuple[int, int]:
    """(queries, judged pairs) training rows are drawn from: the queries with a relevant document."""
    relevant = pd.Series(np.asarray(scheme.relevant(train_data.pairs[LABEL]), dtype=bool))
    kept = relevant.groupby(train_data.pairs[QUERY_ID].to_numpy()).transform("any").to_numpy()
    return int(train_data.pairs.loc[kept, QUERY_ID].nunique()), int(kept.sum())


def _trainer(
    config: TrainConfig,
    train_data: RelevanceData,
    val_data: RelevanceData | None,
    scheme: LabelScheme,
    rows: dict[str, list[str]],
    callbacks: list | None,
) -> _BiRun:
    """The model, its metadata and sentence-transformers' Trainer with rankwright's
    validation, best-checkpoint saving and early stopping."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer

    from rankwright.training.result import best_record, training_record
    from rankwright.training.trainer import EarlyStopCallback, SaveBestCallback, ValidationClock

    t = config.training
    model = SentenceTransformer(resolve_model_path(config.model.name))
    model.max_seq_length = config.model.max_length
    if config.lora.enabled:
        _add_lora(model, config)
    metadata = ModelMetadata(
        model_type="bi-encoder",
        num_labels=1,
        max_length=config.model.max_length,
        labels=scheme.to_dict(),
        activation="sigmoid",
        score="cosine",
        base_model=config.model.name,
        training=training_record(config, train_data, used=_used(train_data, scheme), train_rows=len(rows["anchor"])),
    )
    validation, evaluator = _validation(config, val_data, scheme, model, metadata)
    out = Path(config.output_dir)
    saver = SaveBestCallback(
        lambda trained, step, metric, metrics=None: _save(
            model, metadata, out / "best", best_record(step, metric, metrics)
        ),
        t.metric_for_best_model,
        validation=validation,
    )
    stopper = None
    if t.early_stopping_patience is not None and validation is not None:
        stopper = EarlyStopCallback(t.metric_for_best_model, t.early_stopping_patience, t.early_stopping_threshold)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=_arguments(config, validation is not None),
        train_dataset=Dataset.from_dict(rows),
        loss=_loss(config, model),
        evaluator=evaluator,
        callbacks=[saver, *([stopper] if stopper else []), *(callbacks or [])],
    )
    quiet_console(trainer)
    clock = ValidationClock()
    trainer.add_callback(clock)  # last: its on_evaluate ends after best/ is saved
    return _BiRun(model, metadata, trainer, validation, saver, stopper, clock, out)


def _add_lora(model: Any, config: TrainConfig) -> None:
    """LoRA adapters (peft) on the encoder inside the sentence-transformers model: only
    they train. Saved folders hold the merged weights (:func:`_save`), so they load in
    ``SentenceTransformer`` as plain models."""
    from peft import LoraConfig, TaskType, get_peft_model

    lora = LoraConfig(
        task_type=TaskType.FEATURE_EXTRACTION,
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,  # None: peft's defaults for the architecture
    )
    transformer = model[0]
    transformer.model = get_peft_model(transformer.model, lora)
    trainable, total = transformer.model.get_nb_trainable_parameters()
    log.info(
        "LoRA on %s: %d of %d parameters trainable (%.2f%%)",
        sorted(transformer.model.peft_config["default"].target_modules),
        trainable,
        total,
        100 * trainable / total,
    )


def _merged_state_dict(peft_model: Any) -> dict[str, torch.Tensor]:
    """The encoder's weights with each adapter's update added (W + scale * B A), under
    the plain model's names; the model being trained is left as it is."""
    from peft.tuners.lora import LoraLayer

    base = peft_model.get_base_model()
    with torch.no_grad():
        deltas = {
            f"{name}.base_layer.weight": module.get_delta_weight(adapter)
            for name, module in base.named_modules()
            if isinstance(module, LoraLayer)
            for adapter in module.active_adapters
        }
        state = {}
        for key, value in base.state_dict().items():
            if ".lora_" in key:
                continue
            delta = deltas.get(key)
            state[key.replace(".base_layer.", ".")] = value if delta is None else value + delta.to(value.dtype)
    return state


def _save_lora(model: Any, folder: Path) -> None:
    """A LoRA-trained model as a plain sentence-transformers folder (merged weights) with
    the adapter itself in ``adapter/``."""
    import shutil

    peft_model = model[0].model
    model.save(str(folder))  # modules, tokenizer and the adapter (peft saves only that)
    (folder / "adapter").mkdir(exist_ok=True)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        if (folder / name).exists():
            shutil.move(str(folder / name), str(folder / "adapter" / name))
    base = peft_model.get_base_model()
    base.save_pretrained(str(folder), state_dict=_merged_state_dict(peft_model))


def _validation(
    config: TrainConfig, val_data: RelevanceData | None, scheme: LabelScheme, model: Any, metadata: ModelMetadata
) -> tuple[Any, Any]:
    """The validation set and its evaluator hook (``None, None`` without validation)."""
    from rankwright.inference.bi_encoder import BiEncoderReranker
    from rankwright.retrieval.dense import DenseConfig, DenseEncoder
    from rankwright.training.trainer import ValidationSet
    from rankwright.training.validation import affordable_validation

    if val_data is None or config.training.eval_strategy == "no":
        return None, None
    t = config.training
    val_data = affordable_validation(val_data, t.validation_queries, t.validation_depth, t.seed)
    gains = scheme.gains(val_data.pairs[LABEL])
    validation = ValidationSet(val_data.pairs, gains, scheme.relevant_gain, config.metrics)
    in_memory = BiEncoderReranker(DenseEncoder(DenseConfig(model=config.model.name), model=model), metadata)
    return validation, _RankingEvaluator(validation, in_memory, config.training.eval_batch_size)


def _arguments(config: TrainConfig, validates: bool):
    try:
        from sentence_transformers.sentence_transformer.training_args import (
            BatchSamplers,
            SentenceTransformerTrainingArguments,
        )
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.training_args import BatchSamplers, SentenceTransformerTrainingArguments

    from rankwright.training.arguments import training_kwargs

    eval_strategy = config.training.eval_strategy if validates else "no"
    return SentenceTransformerTrainingArguments(
        **training_kwargs(config, eval_strategy), batch_sampler=BatchSamplers.NO_DUPLICATES
    )


def _summary(
    config: TrainConfig,
    run: _BiRun,
    output: Any,
    train_seconds: float,
    rows: dict[str, list[str]],
    skipped: int,
    started: float,
) -> dict[str, Any]:
    """The run's numbers (a last evaluation first, if validation did not just run)."""
    t, saver, stopper = config.training, run.saver, run.stopper
    last_eval = saver.history[-1]["step"] if saver.history else None
    final_metrics = run.trainer.evaluate() if run.validation is not None and last_eval != output.global_step else {}
    if not final_metrics and saver.history:
        final_metrics = {saver.metric: saver.history[-1][saver.metric]}
    texts_per_row = 2 + config.sampling.negatives_per_group
    seen = output.global_step * t.batch_size * t.grad_accum
    if t.max_steps < 0:  # epochs decide: the last batch of an epoch can be short
        seen = min(seen, math.ceil(len(rows["anchor"]) * t.epochs))
    before = _checkpoint_step(run.resumed_from) * t.batch_size * t.grad_accum  # rows seen before resuming
    stepping = train_seconds - run.clock.seconds
    return {
        "train_runtime_s": train_seconds,
        "validation_runtime_s": run.clock.seconds,
        "global_steps": output.global_step,
        "train_rows": len(rows["anchor"]),
        "train_queries_skipped_no_positive": skipped,
        "pairs_seen": int(seen * (texts_per_row - 1)),
        # in this process's training steps (validation excluded)
        "pairs_per_second": (seen - before) * (texts_per_row - 1) / stepping if stepping > 0 else None,
        "resumed_from": run.resumed_from,
        "train_loss": output.training_loss,
        "final_validation": {k: v for k, v in final_metrics.items() if k.startswith("eval_")},
        "best_validation": {saver.metric: saver.best} if saver.best is not None else None,
        "best_step": saver.best_step,
        "validation_history": saver.history,
        "stopped_early": stopper is not None and stopper.stopped_step is not None,
        "early_stopping": stopper.summary() if stopper is not None else None,
        "validation_per_evaluation": validation_per_evaluation(run.trainer.state.log_history),
        "total_runtime_s": time.perf_counter() - started,
    }


def _checkpoint_step(checkpoint: str | None) -> int:
    return 0 if checkpoint is None else int(Path(checkpoint).name.split("-")[1])


def _files(run: _BiRun, summary: dict[str, Any]) -> Path:
    """final/, the training report and ``train_summary.json``; final/'s path."""
    out = run.out
    final_dir = out / "final"
    _save(run.model, run.metadata, final_dir, {"result": summary})
    if (out / "eval").is_dir() and not any((out / "eval").iterdir()):
        (out / "eval").rmdir()  # sentence-transformers makes it for evaluator files; ours writes none
    summary["log_history"] = list(run.trainer.state.log_history)
    summary["files"] = write_training_report(out, summary, summary["log_history"])
    write_json(summary, out / "train_summary.json")
    return final_dir


def _evaluator_base():
    try:
        from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.evaluation import SentenceEvaluator
    return SentenceEvaluator


class _RankingEvaluator(_evaluator_base()):
    """sentence-transformers' evaluator hook around rankwright's validation: the
    validation pairs scored by cosine, metrics by trec_eval's conventions."""

    def __init__(self, validation, reranker, batch_size: int):
        super().__init__()
        self.validation = validation
        self.reranker = reranker
        self.batch_size = batch_size
        self.primary_metric = "ndcg@10"

    def __call__(self, model, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        return self.validation.evaluate(self.reranker, self.batch_size)
