"""``train``: data -> checks -> groups -> model (+LoRA) -> Trainer -> best/ and final/."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import set_seed

from rankwright.data.labels import LabelScheme, build_scheme
from rankwright.data.readers import DataConfig, read_relevance
from rankwright.data.records import LABEL, RelevanceData
from rankwright.data.split import split_data
from rankwright.evaluation.report import write_json
from rankwright.evaluation.training_report import validation_per_evaluation, write_training_report
from rankwright.inference.calibrate import calibrate_model
from rankwright.inference.reranker import Reranker
from rankwright.losses import build_loss
from rankwright.losses.base import RerankLoss
from rankwright.models.loading import model_type_of, prompt_metadata, resolve_model_path
from rankwright.models.metadata import ModelMetadata
from rankwright.models.packing import enable_packing
from rankwright.models.truncation import cut_warnings_once
from rankwright.training.arguments import training_arguments
from rankwright.training.baselines import check_against_baselines, pair_documents
from rankwright.training.budget import MARGIN, TrainPlan, make_time_stop, parse_budget, plan_training
from rankwright.training.checks import (
    TrainingSetupError,
    check_best_metric,
    check_calibration_setup,
    check_early_stopping_setup,
    check_loss_fits_data,
    check_precision_setup,
    check_sampling_setup,
    check_schedule_setup,
)
from rankwright.training.config import TrainConfig
from rankwright.training.lean import slim_output
from rankwright.training.model_setup import model_and_head
from rankwright.training.result import TrainResult, best_record, finish_folder, training_record
from rankwright.training.sampling import EpochExamples, LengthGroupedSampler, Pool, collate_examples
from rankwright.training.sharding import RankBatchSampler
from rankwright.training.trainer import (
    EarlyStopCallback,
    RerankTrainer,
    RestorableState,
    SaveBestCallback,
    ValidationSet,
)
from rankwright.training.validation import affordable_validation

__all__ = [
    "TrainResult",
    "TrainingSetupError",
    "check_calibration_setup",
    "check_early_stopping_setup",
    "check_loss_fits_data",
    "last_complete_checkpoint",
    "restore_callbacks",
    "save_model",
    "train",
    "training_record",
]

log = logging.getLogger(__name__)


def _datasets(
    config: TrainConfig,
) -> tuple[RelevanceData, RelevanceData | None, RelevanceData | None, LabelScheme]:
    """Training, validation and test data (``None`` where a split has no queries; no
    test data with a separate ``val_path``: the whole file trains)."""
    data = read_relevance(config.data)
    log.info("%s", data.report.summary())
    scheme = build_scheme(config.labels, data)
    scheme.validate(data)
    if config.val_path:
        val_config = DataConfig(**{**asdict(config.data), "path": config.val_path})
        val_config.columns = config.data.columns
        val = read_relevance(val_config)
        log.info("validation: %s", val.report.summary())
        scheme.validate(val)
        return data, val, None, scheme
    parts = split_data(data, config.split)
    log.info(
        "query split %s seed %d: %s", config.split.ratios, config.split.seed, {k: v.n_queries for k, v in parts.items()}
    )
    val = parts["val"] if parts["val"].n_queries else None
    test = parts["test"] if parts["test"].n_queries else None
    return parts["train"], val, test, scheme


def _calibration_entry(result: dict[str, Any]) -> dict[str, Any]:
    report = result.get("report") or {}
    return {
        "fitted_on": f"{result['fitted_on']} ({result['pairs']} pairs)",
        "val_pairs": result["pairs"],
        "test_pairs": report.get("pairs", 0),
        "ece_before": report.get("ece_before"),
        "ece_after": report.get("ece_after"),
    }


def _calibrate_folders(
    config: TrainConfig,
    method: str,
    final: Reranker,
    final_dir: Path,
    best_dir: Path | None,
    val: RelevanceData,
    test: RelevanceData | None,
    scheme: LabelScheme,
) -> dict[str, Any]:
    """Fit ``method`` on the validation pairs into final/ (scored by ``final``, the model
    still in memory) and best/ (loaded; its own scores), ECE before/after on ``test``."""
    started = time.perf_counter()
    shared = {
        "fit_data": val,
        "report_data": test,
        "scheme": scheme,
        "method": method,
        "batch_size": config.training.eval_batch_size,
        "progress": config.progress,
        "fit_name": "val",
        "report_name": "test",
        "source": config.val_path or config.data.path,
    }
    summary = {"method": method, **_calibration_entry(calibrate_model(final_dir, reranker=final, **shared))}
    summary["best"] = _calibration_entry(calibrate_model(best_dir, **shared)) if best_dir is not None else None
    summary["runtime_s"] = time.perf_counter() - started
    if summary["ece_before"] is None:
        log.info("calibration: %s on %s; no test queries to report ECE on", method, summary["fitted_on"])
    else:
        log.info(
            "calibration: %s on %s; ECE on test (%d pairs): %.4f -> %.4f",
            method,
            summary["fitted_on"],
            summary["test_pairs"],
            summary["ece_before"],
            summary["ece_after"],
        )
    return summary


def last_complete_checkpoint(out: Path) -> str | None:
    """The newest checkpoint the Trainer finished writing (``trainer_state.json`` is its
    last file, and must parse); a checkpoint cut short by a crash, or whose state file
    is empty or unreadable, is skipped with a warning and the one before it is used."""
    steps = sorted((int(p.name.split("-")[1]), p) for p in out.glob("checkpoint-*") if p.name.split("-")[1].isdigit())
    for _, path in reversed(steps):
        state = path / "trainer_state.json"
        if not state.exists():
            log.warning("skipping incomplete checkpoint %s (interrupted while saving)", path)
            continue
        try:
            json.loads(state.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            log.warning("skipping checkpoint %s: its trainer_state.json cannot be read (%s)", path, err)
            continue
        return str(path)
    return None


def restore_callbacks(checkpoint: str, callbacks: list) -> None:
    """Put back what each :class:`RestorableState` callback tracked when ``checkpoint``
    was saved (best validation value and step, early-stopping count, pairs seen, loss)."""
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    stored = state.get("stateful_callbacks") or {}
    for callback in callbacks:
        if isinstance(callback, RestorableState):
            callback.restore(stored)


def save_model(model, tokenizer, metadata: ModelMetadata, folder: Path, extra: dict[str, Any] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    finish_folder(folder, metadata, extra)


def _token_lengths(tokenizer, texts: list[str]) -> np.ndarray:
    ids = tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
    return np.array([len(x) for x in ids], dtype=np.int64)


@dataclass
class _Data:
    train: RelevanceData
    val: RelevanceData | None
    test: RelevanceData | None
    scheme: LabelScheme


@dataclass
class _Examples:
    examples: EpochExamples
    lengths: Callable[..., Any]
    collator: Callable[..., Any]


@dataclass
class _Run:
    """A training run's pieces as the steps build them: the Trainer and its callbacks."""

    trainer: RerankTrainer
    tokenizer: Any
    head: Any
    metadata: ModelMetadata
    examples: EpochExamples
    batches: RankBatchSampler
    validation: ValidationSet | None
    saver: SaveBestCallback
    stopper: EarlyStopCallback | None
    out: Path

    @property
    def best_dir(self) -> Path:
        return self.out / "best"

    @property
    def final_dir(self) -> Path:
        return self.out / "final"

    @property
    def best(self) -> Path | None:
        """best/ when validation chose a checkpoint."""
        return self.best_dir if self.saver.best is not None else None


@dataclass
class _Trained:
    output: Any  # transformers' TrainOutput
    seconds: float  # the whole of train(), validation included
    validation_seconds: float  # of which validating (and saving best/)
    pairs_before: int
    final_metrics: dict[str, Any]
    resumed_from: str | None


@cut_warnings_once()
def train(config: TrainConfig, callbacks: list | None = None) -> TrainResult:
    """Train as ``config`` says; ``callbacks`` (``transformers.TrainerCallback``) are
    added to the Trainer's, e.g. for custom logging or timing."""
    started = time.perf_counter()
    budget_s = parse_budget(config.training.budget, "training.budget") if config.training.budget else None
    data = _Data(*_datasets(config))
    # an explicit model.type needs no model yet: setup errors come before a missing model's
    name = config.model.name if config.model.type else resolve_model_path(config.model.name)
    model_type = model_type_of(name, config.model.type)
    check_precision_setup(config)
    check_schedule_setup(config)
    check_best_metric(config)
    if model_type == "bi-encoder":
        from rankwright.training.bi_encoder import train_bi_encoder

        check_early_stopping_setup(config, data.val)
        calibration = check_calibration_setup(config, data.val, data.scheme)
        if budget_s is not None:  # no probe for sentence-transformers' trainer: it stops before the time is up
            callbacks = [*(callbacks or []), make_time_stop(started + budget_s, MARGIN * budget_s)]
        result = train_bi_encoder(config, data.train, data.val, data.scheme, callbacks)
        if calibration is not None:
            _calibrate_bi_encoder(config, result, calibration, data, started)
        result.metrics["output_folder"] = slim_output(Path(result.output_dir), config.training.keep_checkpoints)
        return result
    loss = build_loss(config.loss.name, config.loss.params)
    calibration, grouped = _checks(config, loss, data, model_type)
    fitted = _fit_loss(loss, data)
    set_seed(config.training.seed)
    model, tokenizer, head = model_and_head(config, model_type, data.scheme, loss)
    examples = _examples_and_collator(config, data, loss, grouped, tokenizer, head, model)
    metadata = _metadata(config, model_type, head, data, examples.examples.used())
    run = _trainer_and_callbacks(config, model, tokenizer, head, loss, examples, metadata, data, callbacks)
    resume_from = _resume(config, run)
    plan, stop = _budget_plan(config, run, budget_s, started)
    trained = _run_training(run, resume_from)
    summary = _summary(config, run, trained, started)
    if fitted:
        summary["loss_settings"] = fitted
    if plan is not None:
        summary["budget"] = {**plan.to_dict(), "stopped_at_step": stop.stopped_step}
    _files(config, run, summary, calibration, data, started)
    if run.trainer.is_world_process_zero():
        summary["output_folder"] = slim_output(run.out, config.training.keep_checkpoints)
    run.trainer.accelerator.wait_for_everyone()
    _log_done(run, trained, summary)
    return TrainResult(str(run.out), str(run.best) if run.best else None, str(run.final_dir), summary)


def _checks(config: TrainConfig, loss: RerankLoss, data: _Data, model_type: str) -> tuple[str | None, bool]:
    """The calibration method and whether examples are groups, once the configuration
    is checked against the data (before any model is loaded)."""
    check_loss_fits_data(config.loss.name, loss, data.scheme, data.train)
    calibration = check_calibration_setup(config, data.val, data.scheme)
    check_early_stopping_setup(config, data.val)
    return calibration, check_sampling_setup(config, loss, model_type)


def _fit_loss(loss: RerankLoss, data: _Data) -> dict[str, Any]:
    """A class loss's settings that depend on the training labels (class weights)."""
    if loss.label_kind != "class":
        return {}
    fitted = loss.fit(data.scheme.class_index(data.train.pairs[LABEL]), list(data.scheme.classes))
    if fitted:
        log.info("loss %s set from the %d training pairs: %s", type(loss).__name__, len(data.train.pairs), fitted)
    return fitted


def _examples_and_collator(
    config: TrainConfig, data: _Data, loss: RerankLoss, grouped: bool, tokenizer: Any, head: Any, model: Any
) -> _Examples:
    """Each epoch's examples, their token lengths (for length grouping) and the collator."""
    pool = Pool.build(data.train.pairs, data.scheme, loss.label_kind)
    examples = EpochExamples(pool, config.sampling, grouped, loss.label_kind, config.training.seed)
    if len(examples) == 0:
        raise TrainingSetupError("no training examples: every query was skipped (see the log for why)")
    query_len = _token_lengths(tokenizer, pool.queries)
    doc_len = _token_lengths(tokenizer, pool.docs)
    overhead = getattr(head, "pair_overhead", 3)
    lengths_fn = partial(examples.lengths, query_len + overhead, doc_len, config.model.max_length)
    label_dtype = torch.long if loss.label_kind == "class" else torch.float32
    pack = config.sampling.packing and head.can_pack(model)
    if pack:
        enable_packing(model)
    elif config.sampling.packing:
        log.info("%s cannot run packed batches; each batch is scored in padded chunks", type(model).__name__)
    collator = partial(
        collate_examples,
        pool=pool,
        head=head,
        label_dtype=label_dtype,
        buckets=config.sampling.length_buckets,
        pack=pack,
    )
    return _Examples(examples, lengths_fn, collator)


def _metadata(config: TrainConfig, model_type: str, head: Any, data: _Data, used: tuple[int, int]) -> ModelMetadata:
    """What the model folders' ``rankwright.json`` says of the model and its training
    (``used``: the queries and judged pairs the examples are drawn from)."""
    num_labels = head.num_labels
    generative = model_type == "generative"
    return ModelMetadata(
        model_type=model_type,
        num_labels=num_labels,
        max_length=config.model.max_length,
        labels=data.scheme.to_dict(),
        activation="sigmoid" if num_labels == 1 else "softmax",
        score=("probability" if generative else "logit") if num_labels == 1 else "expected_gain",
        prompt=prompt_metadata(head) if generative else None,
        base_model=config.model.name,
        adapter=config.lora.enabled,
        training=training_record(config, data.train, used=used),
    )


def _validation_set(config: TrainConfig, data: _Data) -> ValidationSet | None:
    if data.val is None or config.training.eval_strategy == "no":
        return None
    t = config.training
    val = affordable_validation(data.val, t.validation_queries, t.validation_depth, t.seed)
    gains = data.scheme.gains(val.pairs[LABEL])
    return ValidationSet(val.pairs, gains, data.scheme.relevant_gain, config.metrics)


def _trainer_and_callbacks(
    config: TrainConfig,
    model: Any,
    tokenizer: Any,
    head: Any,
    loss: RerankLoss,
    examples: _Examples,
    metadata: ModelMetadata,
    data: _Data,
    callbacks: list | None,
) -> _Run:
    """The Trainer with its batches (each rank's share), best-checkpoint saving and early stopping."""
    validation = _validation_set(config, data)
    out = Path(config.output_dir)
    t = config.training
    args = training_arguments(config, t.eval_strategy if validation is not None else "no")  # joins the process group
    # Every rank draws the same epoch order of global batches and trains on its share.
    sampler = LengthGroupedSampler(
        examples.examples, examples.lengths, t.batch_size * args.world_size, t.seed, config.sampling.length_grouping
    )
    batches = RankBatchSampler(sampler, t.batch_size, args.process_index, args.world_size)
    if args.world_size > 1:
        log.info(
            "data-parallel training on %d processes: %d examples per process, %d per step",
            args.world_size,
            t.batch_size,
            batches.global_batch_size * t.grad_accum,
        )
    best_dir = out / "best"
    saver = SaveBestCallback(
        lambda trained, step, metric, metrics=None: save_model(
            trained, tokenizer, metadata, best_dir, best_record(step, metric, metrics)
        ),
        t.metric_for_best_model,
        validation=validation,
    )
    stopper = (
        EarlyStopCallback(t.metric_for_best_model, t.early_stopping_patience, t.early_stopping_threshold)
        if t.early_stopping_patience is not None and validation is not None
        else None
    )
    trainer = RerankTrainer(
        model=model,
        args=args,
        train_dataset=examples.examples,
        eval_dataset=examples.examples if validation is not None else None,
        data_collator=examples.collator,
        callbacks=[saver, *([stopper] if stopper is not None else []), *(callbacks or [])],
        head=head,
        rerank_loss=loss,
        validation=validation,
        metadata=metadata,
        train_batches=batches,
    )
    return _Run(trainer, tokenizer, head, metadata, examples.examples, batches, validation, saver, stopper, out)


def _resume(config: TrainConfig, run: _Run) -> str | None:
    return resume_checkpoint(config, run.out, [run.saver, run.stopper, run.trainer.progress])


def resume_checkpoint(config: TrainConfig, out: Path, callbacks: list) -> str | None:
    """The checkpoint in ``out`` to resume from (``training.resume``), with the
    ``callbacks``' state put back."""
    if not config.training.resume:
        return None
    resume_from = last_complete_checkpoint(out)
    if resume_from is None:
        log.warning("training.resume: no checkpoint in %s; starting from scratch", out)
    else:
        log.info("resuming from %s", resume_from)
        restore_callbacks(resume_from, callbacks)
    return resume_from


def _budget_plan(
    config: TrainConfig, run: _Run, budget_s: float | None, started: float
) -> tuple[TrainPlan | None, Any]:
    """With a budget: the probe, the plan (logged; the steps cut to what fits) and the
    callback that stops training before the budget's end."""
    if budget_s is None:
        return None, None
    from rankwright.training.probe import probe_trainer

    t = config.training
    probe = probe_trainer(run.trainer, t.grad_accum, t.seed)
    steps_per_epoch = max(1, -(-len(run.batches) // t.grad_accum))
    eval_strategy = t.eval_strategy if run.validation is not None else "no"
    plan = plan_training(
        budget_s,
        time.perf_counter() - started,
        probe,
        steps_per_epoch,
        t.epochs,
        t.max_steps,
        eval_strategy,
        t.eval_steps,
        min_epochs=t.budget_min_epochs,
    )
    log.info("%s", plan.describe())
    if plan.shortened:
        run.trainer.args.max_steps = plan.steps  # the schedule decays over the planned steps
    stop = make_time_stop(started + budget_s, plan.tail_s)
    run.trainer.add_callback(stop)
    return plan, stop


def _run_training(run: _Run, resume_from: str | None) -> _Trained:
    """Train, then evaluate the last step if validation did not just run there."""
    trainer = run.trainer
    pairs_before = trainer.pairs_seen
    train_start = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - train_start
    validating = trainer.validation_clock.seconds
    needs_final_eval = run.validation is not None and trainer.last_eval_step != output.global_step
    final_metrics = trainer.evaluate() if needs_final_eval else trainer.last_eval_metrics
    return _Trained(output, seconds, validating, pairs_before, final_metrics, resume_from)


def _summary(config: TrainConfig, run: _Run, trained: _Trained, started: float) -> dict[str, Any]:
    """The run's numbers, as ``train_summary.json`` and the final model's metadata record them."""
    trainer, saver, stopper, t = run.trainer, run.saver, run.stopper, config.training
    steps, seconds = trained.output.global_step, trained.seconds
    stepping = seconds - trained.validation_seconds
    return {
        "train_runtime_s": seconds,
        "validation_runtime_s": trained.validation_seconds,
        "validation": {"queries": run.validation.n_queries, "pairs": len(run.validation.pairs)}
        if run.validation is not None
        else None,
        "resumed_from": trained.resumed_from,
        "global_steps": steps,
        "pairs_seen": trainer.pairs_seen,
        "train_examples_per_epoch": len(run.examples),
        "train_queries_skipped_no_usable_group": run.examples.skipped_queries,
        # training steps only (validation excluded); a resumed run's time covers only the steps after the checkpoint
        "pairs_per_second": (trainer.pairs_seen - trained.pairs_before) / stepping if stepping > 0 else None,
        # the mean per-step loss of the whole run, resumed or not
        "train_loss": trainer.progress.loss_sum / steps if steps else None,
        "final_validation": {k: v for k, v in trained.final_metrics.items() if k.startswith("eval_")},
        "best_validation": {saver.metric: saver.best} if saver.best is not None else None,
        "best_step": saver.best_step,
        "validation_history": saver.history,
        "stopped_early": stopper is not None and stopper.stopped_step is not None,
        "early_stopping": stopper.summary() if stopper is not None else None,
        "validation_per_evaluation": validation_per_evaluation(trainer.state.log_history),
        "world_size": trainer.args.world_size,
        "per_device_batch_size": t.batch_size,
        "global_batch_size": run.batches.global_batch_size * t.grad_accum,
        "total_runtime_s": time.perf_counter() - started,
    }


def _files(
    config: TrainConfig, run: _Run, summary: dict[str, Any], calibration: str | None, data: _Data, started: float
) -> None:
    """The best model against random order and BM25 on the validation queries, final/
    (calibrated as asked, best/ too), the training report and ``train_summary.json``.
    Files are written once, by rank 0; the other ranks wait until they exist."""
    trainer = run.trainer
    if trainer.is_world_process_zero():
        documents = pair_documents(data.train, data.val, data.test)
        summary["baselines"] = check_against_baselines(run.saver, run.validation, documents, config.progress)
        save_model(trainer.model, run.tokenizer, run.metadata, run.final_dir, {"result": summary})
        if calibration is not None:
            _calibrate(config, run, summary, calibration, data, started)
        summary["log_history"] = list(trainer.state.log_history)
        summary["files"] = write_training_report(run.out, summary, summary["log_history"])
        write_json(summary, run.out / "train_summary.json")
    trainer.accelerator.wait_for_everyone()


def _calibrate(
    config: TrainConfig, run: _Run, summary: dict[str, Any], method: str, data: _Data, started: float
) -> None:
    """Calibrate final/ and best/ and record it in the summary and final/'s metadata."""
    in_memory = Reranker(run.trainer.model, run.head, run.metadata, device=str(run.trainer.args.device))
    _calibrate_and_record(config, method, in_memory, run.final_dir, run.best, data, summary, started)


def _calibrate_and_record(
    config: TrainConfig,
    method: str,
    final: Reranker,
    final_dir: Path,
    best_dir: Path | None,
    data: _Data,
    summary: dict[str, Any],
    started: float,
) -> None:
    """:func:`_calibrate_folders`, recorded in ``summary`` and in final/'s metadata (the
    summary without its log history and file list)."""
    assert data.val is not None  # check_calibration_setup made sure
    summary["calibration"] = _calibrate_folders(
        config, method, final, final_dir, best_dir, data.val, data.test, data.scheme
    )
    summary["total_runtime_s"] = time.perf_counter() - started
    final_metadata = ModelMetadata.load(final_dir)  # now with its calibration
    final_metadata.training["result"] = {k: v for k, v in summary.items() if k not in ("log_history", "files")}
    final_metadata.save(final_dir)


def _calibrate_bi_encoder(config: TrainConfig, result: TrainResult, method: str, data: _Data, started: float) -> None:
    """Calibrate a trained bi-encoder's final/ and best/ (its cosines, as a cross-encoder's
    logits) and record it in ``train_summary.json`` and final/'s metadata."""
    summary, final_dir = result.metrics, Path(result.final_dir)
    best_dir = Path(result.best_dir) if result.best_dir else None
    _calibrate_and_record(
        config, method, Reranker.from_pretrained(final_dir), final_dir, best_dir, data, summary, started
    )
    write_json(summary, Path(result.output_dir) / "train_summary.json")


def _log_done(run: _Run, trained: _Trained, summary: dict[str, Any]) -> None:
    log.info(
        "trained in %.1f s, %.1f s of it validating (%d steps, %.1f pairs/s in the training steps); final model: %s%s",
        trained.seconds,
        trained.validation_seconds,
        trained.output.global_step,
        summary["pairs_per_second"] or 0,
        run.final_dir,
        f", best: {run.best_dir}" if run.best is not None else "",
    )
