"""``train``: data -> checks -> groups -> model (+LoRA) -> Trainer -> best/ and final/."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import set_seed

import rankwright
from rankwright.data.labels import LabelScheme, build_scheme
from rankwright.data.readers import DataConfig, read_relevance
from rankwright.data.records import LABEL, QUERY_ID, SCORE, RelevanceData
from rankwright.data.split import split_data
from rankwright.evaluation.calibration import METHODS as CALIBRATION_METHODS
from rankwright.evaluation.report import write_json
from rankwright.evaluation.training_report import validation_per_evaluation, write_training_report
from rankwright.inference.calibrate import calibrate_model
from rankwright.inference.reranker import Reranker
from rankwright.losses import build_loss
from rankwright.losses.base import RerankLoss
from rankwright.models.card import write_model_card
from rankwright.models.cross_encoder import CrossEncoderHead
from rankwright.models.generative import GenerativeHead
from rankwright.models.loading import (
    load_causal_lm,
    load_sequence_classifier,
    model_type_of,
    prompt_metadata,
    quantization_config,
    resolve_model_path,
)
from rankwright.models.metadata import ModelMetadata
from rankwright.models.prompts import build_prompt
from rankwright.models.st_config import write_cross_encoder_config
from rankwright.training.arguments import training_arguments
from rankwright.training.config import TrainConfig
from rankwright.training.sampling import MODES, EpochExamples, LengthGroupedSampler, Pool, collate_examples
from rankwright.training.sharding import RankBatchSampler
from rankwright.training.trainer import (
    EarlyStopCallback,
    RerankTrainer,
    RestorableState,
    SaveBestCallback,
    ValidationSet,
)

log = logging.getLogger(__name__)


class TrainingSetupError(ValueError):
    """The configuration cannot train on this data; the message says what to change."""


@dataclass
class TrainResult:
    output_dir: str
    best_dir: str | None
    final_dir: str
    metrics: dict[str, Any]

    @property
    def model_dir(self) -> str:
        """The best checkpoint by validation, else the final model."""
        return self.best_dir or self.final_dir


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
        scheme.validate(val)
        return data, val, None, scheme
    parts = split_data(data, config.split)
    log.info(
        "query split %s seed %d: %s", config.split.ratios, config.split.seed, {k: v.n_queries for k, v in parts.items()}
    )
    val = parts["val"] if parts["val"].n_queries else None
    test = parts["test"] if parts["test"].n_queries else None
    return parts["train"], val, test, scheme


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


def _token_lengths(tokenizer, texts: list[str]) -> np.ndarray:
    ids = tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
    return np.array([len(x) for x in ids], dtype=np.int64)


ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")


def _lora_targets(model, config: TrainConfig, generative: bool) -> list[str] | None:
    if config.lora.target_modules or not generative:
        return config.lora.target_modules  # cross-encoders: peft's per-architecture defaults
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    found = [p for p in ATTENTION_PROJECTIONS if p in names]
    return found or None


def _apply_lora(model, config: TrainConfig, generative: bool):
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training

    if config.lora.quantize:
        # Casts norms to fp32 and enables input gradients, as 4-bit training needs.
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.training.gradient_checkpointing
        )
    lora = LoraConfig(
        task_type=TaskType.CAUSAL_LM if generative else TaskType.SEQ_CLS,
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=_lora_targets(model, config, generative),
    )
    model = get_peft_model(model, lora)
    trainable, total = model.get_nb_trainable_parameters()
    log.info(
        "LoRA on %s: %d of %d parameters trainable (%.2f%%)",
        sorted(model.peft_config["default"].target_modules),
        trainable,
        total,
        100 * trainable / total,
    )
    return model


def _model_and_head(config: TrainConfig, model_type: str, scheme: LabelScheme, loss: RerankLoss):
    """The model to train and the head that feeds it (cross-encoder or generative)."""
    m = config.model
    kwargs = {"attn_implementation": m.attn_implementation} if m.attn_implementation else {}
    if config.lora.quantize and not config.lora.enabled:
        raise TrainingSetupError("lora.quantize (QLoRA) trains adapters on a 4-bit base: set lora.enabled true")
    num_labels = len(scheme.classes) if loss.multi_class else 1
    if model_type == "generative":
        model, tokenizer = load_causal_lm(m.name, dtype=m.dtype, quantize=config.lora.quantize, **kwargs)
        classes = scheme.classes if loss.multi_class else None
        head = GenerativeHead(tokenizer, build_prompt(m.prompt, tokenizer, classes), m.max_length, num_labels)
    else:
        quant = quantization_config(config.lora.quantize, m.dtype)
        if quant is not None:
            kwargs["quantization_config"] = quant
        model, tokenizer = load_sequence_classifier(m.name, num_labels, **kwargs)
        head = CrossEncoderHead(tokenizer, m.max_length, num_labels)
    if config.lora.enabled:
        model = _apply_lora(model, config, model_type == "generative")
    return model, tokenizer, head


def training_record(config: TrainConfig, train_data: RelevanceData, **extra: Any) -> dict[str, Any]:
    """What a model folder's ``rankwright.json`` records of its training."""
    return {
        "rankwright_version": rankwright.__version__,
        "loss": {"name": config.loss.name, **config.loss.params},
        "data": config.data.path,
        "train_queries": train_data.n_queries,
        "train_pairs": len(train_data.pairs),
        **extra,
        "config": asdict(config),
    }


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
    if extra:
        metadata.training = {**metadata.training, **extra}
    metadata.save(folder)
    write_cross_encoder_config(folder, metadata)
    write_model_card(folder, metadata)


def train(config: TrainConfig, callbacks: list | None = None) -> TrainResult:
    """Train as ``config`` says; ``callbacks`` (``transformers.TrainerCallback``) are
    added to the Trainer's, e.g. for custom logging or timing."""
    started = time.perf_counter()
    train_data, val_data, test_data, scheme = _datasets(config)
    model_type = model_type_of(resolve_model_path(config.model.name), config.model.type)
    if model_type == "bi-encoder":
        from rankwright.training.bi_encoder import train_bi_encoder

        check_early_stopping_setup(config, val_data)
        return train_bi_encoder(config, train_data, val_data, scheme, callbacks)
    loss = build_loss(config.loss.name, config.loss.params)
    check_loss_fits_data(config.loss.name, loss, scheme, train_data)
    calibration = check_calibration_setup(config, val_data, scheme)
    check_early_stopping_setup(config, val_data)
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

    set_seed(config.training.seed)
    model, tokenizer, head = _model_and_head(config, model_type, scheme, loss)
    num_labels = head.num_labels

    pool = Pool.build(train_data.pairs, scheme, loss.label_kind)
    examples = EpochExamples(pool, config.sampling, grouped, loss.label_kind, config.training.seed)
    if len(examples) == 0:
        raise TrainingSetupError("no training examples: every query was skipped (see the log for why)")
    query_len = _token_lengths(tokenizer, pool.queries)
    doc_len = _token_lengths(tokenizer, pool.docs)
    overhead = getattr(head, "pair_overhead", 3)
    lengths_fn = partial(examples.lengths, query_len + overhead, doc_len, config.model.max_length)
    label_dtype = torch.long if loss.label_kind == "class" else torch.float32
    collator = partial(
        collate_examples, pool=pool, head=head, label_dtype=label_dtype, buckets=config.sampling.length_buckets
    )

    generative = model_type == "generative"
    metadata = ModelMetadata(
        model_type=model_type,
        num_labels=num_labels,
        max_length=config.model.max_length,
        labels=scheme.to_dict(),
        activation="sigmoid" if num_labels == 1 else "softmax",
        score=("probability" if generative else "logit") if num_labels == 1 else "expected_gain",
        prompt=prompt_metadata(head) if generative else None,
        base_model=config.model.name,
        adapter=config.lora.enabled,
        training=training_record(config, train_data),
    )
    validation = None
    if val_data is not None and config.training.eval_strategy != "no":
        gains = scheme.gains(val_data.pairs[LABEL])
        validation = ValidationSet(val_data.pairs, gains, scheme.relevant_gain, config.metrics)

    out = Path(config.output_dir)
    t = config.training
    eval_strategy = t.eval_strategy if validation is not None else "no"
    args = training_arguments(config, eval_strategy)  # joins the process group under torchrun
    # Every rank draws the same epoch order of global batches and trains on its share.
    sampler = LengthGroupedSampler(
        examples, lengths_fn, t.batch_size * args.world_size, t.seed, config.sampling.length_grouping
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
        lambda trained, step, metric: save_model(
            trained, tokenizer, metadata, best_dir, {"best": {"step": step, **metric}}
        ),
        t.metric_for_best_model,
    )
    stopper = (
        EarlyStopCallback(t.metric_for_best_model, t.early_stopping_patience, t.early_stopping_threshold)
        if t.early_stopping_patience is not None and validation is not None
        else None
    )
    trainer = RerankTrainer(
        model=model,
        args=args,
        train_dataset=examples,
        eval_dataset=examples if validation is not None else None,
        data_collator=collator,
        callbacks=[saver, *([stopper] if stopper is not None else []), *(callbacks or [])],
        head=head,
        rerank_loss=loss,
        validation=validation,
        metadata=metadata,
        train_batches=batches,
    )
    resume_from = last_complete_checkpoint(out) if t.resume else None
    if t.resume and resume_from is None:
        log.warning("training.resume: no checkpoint in %s; starting from scratch", out)
    elif resume_from:
        log.info("resuming from %s", resume_from)
        restore_callbacks(resume_from, [saver, stopper, trainer.progress])
    pairs_before = trainer.pairs_seen
    train_start = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=resume_from)
    train_seconds = time.perf_counter() - train_start
    needs_final_eval = validation is not None and trainer.last_eval_step != output.global_step
    final_metrics = trainer.evaluate() if needs_final_eval else trainer.last_eval_metrics
    summary = {
        "train_runtime_s": train_seconds,
        "resumed_from": resume_from,
        "global_steps": output.global_step,
        "pairs_seen": trainer.pairs_seen,
        "train_examples_per_epoch": len(examples),
        "train_queries_skipped_no_usable_group": examples.skipped_queries,
        # this process's pairs: a resumed run's time covers only the steps after the checkpoint
        "pairs_per_second": (trainer.pairs_seen - pairs_before) / train_seconds if train_seconds else None,
        # the mean per-step loss of the whole run, resumed or not
        "train_loss": trainer.progress.loss_sum / output.global_step if output.global_step else None,
        "final_validation": {k: v for k, v in final_metrics.items() if k.startswith("eval_")},
        "best_validation": {saver.metric: saver.best} if saver.best is not None else None,
        "best_step": saver.best_step,
        "validation_history": saver.history,
        "stopped_early": stopper is not None and stopper.stopped_step is not None,
        "early_stopping": stopper.summary() if stopper is not None else None,
        "validation_per_evaluation": validation_per_evaluation(trainer.state.log_history),
        "world_size": args.world_size,
        "per_device_batch_size": t.batch_size,
        "global_batch_size": batches.global_batch_size * t.grad_accum,
        "total_runtime_s": time.perf_counter() - started,
    }
    final_dir = out / "final"
    # Files are written once, by rank 0; the other ranks wait until they exist.
    if trainer.is_world_process_zero():
        save_model(trainer.model, tokenizer, metadata, final_dir, {"result": summary})
        if calibration is not None:
            in_memory = Reranker(trainer.model, head, metadata, device=str(trainer.args.device))
            best = best_dir if saver.best is not None else None
            summary["calibration"] = _calibrate_folders(
                config, calibration, in_memory, final_dir, best, val_data, test_data, scheme
            )
            summary["total_runtime_s"] = time.perf_counter() - started
            final_metadata = ModelMetadata.load(final_dir)  # now with its calibration
            final_metadata.training["result"] = summary
            final_metadata.save(final_dir)
        summary["log_history"] = list(trainer.state.log_history)
        summary["files"] = write_training_report(out, summary, summary["log_history"])
        write_json(summary, out / "train_summary.json")
    trainer.accelerator.wait_for_everyone()
    log.info(
        "trained in %.1f s (%d steps, %.1f pairs/s); final model: %s%s",
        train_seconds,
        output.global_step,
        summary["pairs_per_second"] or 0,
        final_dir,
        f", best: {best_dir}" if saver.best is not None else "",
    )
    return TrainResult(str(out), str(best_dir) if saver.best is not None else None, str(final_dir), summary)
