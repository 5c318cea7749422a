"""A thin ``transformers.Trainer`` subclass: the loss is a pluggable function of
(scores, labels, mask); evaluation runs the ranking metrics on the fixed validation
set through the Reranker's batching path; the sampler re-draws examples per epoch.
Accumulation, schedules, clipping, mixed precision, checkpoints, resume, DDP and
report_to are the Trainer's own.

Data-parallel runs (torchrun, accelerate launch) train on exactly the batches of one
process with the global batch size: each rank takes its share of every global batch
(``RankBatchSampler``), the loss is that of the global batch (``global_batch``), and
validation is scored in shares, gathered, computed once and broadcast, so that every
rank takes the same best-checkpoint and early-stopping decisions."""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import ExportableState
from transformers.trainer_utils import seed_worker

from rankwright.data.records import DOC, DOC_ID, QUERY, QUERY_ID, SCORE
from rankwright.evaluation.ranking import GAIN, RankingConfig, evaluate_run
from rankwright.inference.reranker import Reranker
from rankwright.losses.base import RerankLoss
from rankwright.training import distributed
from rankwright.training.sharding import RankBatchSampler, shard_bounds

log = logging.getLogger(__name__)


class ValidationSet:
    """The fixed validation pairs (never re-sampled) and their integer gains."""

    def __init__(self, pairs: pd.DataFrame, gains: np.ndarray, relevant_gain: int, metrics: RankingConfig):
        self.pairs = pairs[[QUERY_ID, QUERY, DOC_ID, DOC]].reset_index(drop=True)
        self.qrels = pd.DataFrame({QUERY_ID: self.pairs[QUERY_ID], DOC_ID: self.pairs[DOC_ID], GAIN: gains})
        self.relevant_gain = relevant_gain
        self.metrics = metrics

    def evaluate(self, reranker: Reranker, batch_size: int, progress: bool = False) -> dict[str, float]:
        """The metrics on all validation pairs. In a data-parallel run each rank scores
        its share of the pairs; rank 0 computes the metrics on the gathered scores and
        every rank returns its numbers."""
        lo, hi = shard_bounds(len(self.pairs), distributed.rank(), distributed.world_size())
        part = self.pairs.iloc[lo:hi]
        local = np.empty(0, dtype=np.float32)
        if len(part):
            local = reranker.score(part[QUERY].tolist(), part[DOC].tolist(), batch_size=batch_size, progress=progress)
        scores = distributed.gather_arrays(local)
        return distributed.broadcast(self.score_metrics(scores) if distributed.rank() == 0 else None)

    def score_metrics(self, scores: np.ndarray) -> dict[str, float]:
        """The ranking metrics of one score per validation pair."""
        run = self.pairs[[QUERY_ID, DOC_ID]].assign(**{SCORE: scores})
        result = evaluate_run(run, self.qrels, self.relevant_gain, self.metrics)
        means = result.mean("all")
        informative = result.mean("informative")
        out = dict(means)
        out.update({f"{k}_informative": v for k, v in informative.items() if not math.isnan(v)})
        return out


class RerankTrainer(Trainer):
    def __init__(
        self,
        *args: Any,
        head,
        rerank_loss: RerankLoss,
        validation: ValidationSet | None,
        metadata,
        train_batches: RankBatchSampler,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.head = head
        self.rerank_loss = rerank_loss
        self.validation = validation
        self.metadata = metadata
        self.train_batches = train_batches
        # Our loss is a per-batch mean: let the Trainer scale it for accumulation.
        self.model_accepts_loss_kwargs = False
        self.progress = TrainingProgress()
        self.add_callback(self.progress)  # saved in every checkpoint, restored by a resume
        self.last_eval_step: int | None = None
        self.last_eval_metrics: dict[str, float] = {}

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        # transformers prints each log line to stdout (tqdm.write, or print without
        # progress bars); stdout is for the command's report, so they go to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            super().log(logs, *args, **kwargs)

    def get_train_dataloader(self) -> DataLoader:
        """The epoch's batches from ``train_batches``, this rank's share of each global
        batch. accelerate would deal whole batches round-robin to the ranks and pad the
        epoch's end with repeated examples; the shares are already per rank, so its
        wrapper is made a pass-through (as the Trainer does for its own rank-aware
        batch samplers)."""
        a = self.args
        loader = DataLoader(
            self.train_dataset,
            batch_sampler=self.train_batches,
            collate_fn=self.data_collator,
            num_workers=a.dataloader_num_workers,
            pin_memory=a.dataloader_pin_memory,
            persistent_workers=a.dataloader_persistent_workers,
            prefetch_factor=a.dataloader_prefetch_factor,
            multiprocessing_context=a.dataloader_multiprocessing_context,
            worker_init_fn=partial(seed_worker, num_workers=a.dataloader_num_workers, rank=a.process_index),
        )
        prepared = self.accelerator.prepare(loader)
        wrapper = getattr(prepared, "batch_sampler", None)
        if wrapper is not self.train_batches and getattr(wrapper, "batch_sampler", None) is self.train_batches:
            wrapper.num_processes = 1
            wrapper.process_index = 0
        return prepared

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        index, mask, labels = inputs["index"], inputs["mask"], inputs["rw_labels"]
        # Chunks were cut from the length-sorted pairs; put their scores back in pair order.
        sorted_scores = torch.cat([self.head.scores(model, chunk) for chunk in inputs["features"]])
        flat = torch.empty_like(sorted_scores)
        flat[inputs["order"]] = sorted_scores
        grid = flat[index.clamp(min=0)]
        if not model.training:
            loss = self.rerank_loss(grid, labels, mask)
            return (loss, {"scores": grid}) if return_outputs else loss
        scores, labels, mask = distributed.global_batch(grid, labels, mask)
        loss = distributed.scale_gradient(self.rerank_loss(scores, labels, mask))
        if not inputs["mask"].any():
            # A placeholder batch: its scores must still reach the loss, or this rank
            # would skip the gradient all-reduce that the other ranks wait in.
            loss = loss + 0.0 * grid.sum()
        self.progress.pairs_seen += int(mask.sum())  # the global batch's pairs
        return (loss, {"scores": grid}) if return_outputs else loss

    @property
    def pairs_seen(self) -> int:
        return self.progress.pairs_seen

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        self.progress.loss_sum += float(loss)  # already divided by the accumulation steps
        return loss

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        if self.validation is None:
            return {}
        start = time.perf_counter()
        reranker = Reranker(self.model, self.head, self.metadata, device=str(self.args.device))
        progress = not self.args.disable_tqdm and self.is_world_process_zero()
        values = self.validation.evaluate(reranker, self.args.per_device_eval_batch_size, progress=progress)
        self.model.train()
        metrics = {f"{metric_key_prefix}_{k}": v for k, v in values.items()}
        metrics[f"{metric_key_prefix}_runtime"] = time.perf_counter() - start
        metrics["epoch"] = self.state.epoch
        self.last_eval_step = self.state.global_step
        self.last_eval_metrics = metrics
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


class RestorableState(ExportableState):
    """A callback whose ``ATTRIBUTES`` are saved into every checkpoint's
    ``trainer_state.json`` (``stateful_callbacks``, by the Trainer) and put back by
    :meth:`restore` on a resume, so what it tracked does not restart from nothing."""

    ATTRIBUTES: tuple[str, ...] = ()

    def state(self) -> dict[str, Any]:
        return {"args": {}, "attributes": {name: getattr(self, name) for name in self.ATTRIBUTES}}

    def restore(self, stored: dict[str, Any]) -> None:
        data = stored.get(type(self).__name__)
        if isinstance(data, list):
            data = data[-1] if data else None
        for name, value in ((data or {}).get("attributes") or {}).items():
            if name in self.ATTRIBUTES:
                setattr(self, name, value)


class TrainingProgress(TrainerCallback, RestorableState):
    """Pairs trained on and the sum of the per-step training losses since the start,
    across resumes (the Trainer's own loss total restarts with each process)."""

    ATTRIBUTES = ("pairs_seen", "loss_sum")

    def __init__(self) -> None:
        self.pairs_seen = 0
        self.loss_sum = 0.0


class SaveBestCallback(TrainerCallback, RestorableState):
    """Saves the model to ``best/`` whenever the chosen validation metric improves
    (``save_fn(model, step=..., metric=...)``; the Trainer passes its model to callbacks).
    The best value, its step and the history survive a resume (:class:`RestorableState`),
    so a resumed run's first evaluation is compared with the best before the interruption."""

    ATTRIBUTES = ("best", "best_step", "history")

    def __init__(self, save_fn, metric: str, greater_is_better: bool = True):
        self.save_fn = save_fn
        self.metric = metric if metric.startswith("eval_") else f"eval_{metric}"
        self.sign = 1.0 if greater_is_better else -1.0
        self.best: float | None = None
        self.best_step: int | None = None
        self.history: list[dict[str, float]] = []

    def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
        if not metrics or self.metric not in metrics:
            return
        value = float(metrics[self.metric])
        self.history.append({"step": state.global_step, "epoch": state.epoch, self.metric: value})
        if self.best is None or self.sign * value > self.sign * self.best:
            self.best = value
            self.best_step = state.global_step
            if state.is_world_process_zero:
                self.save_fn(model, step=state.global_step, metric={self.metric: value})
                log.info("new best %s = %.4f at step %d", self.metric, value, state.global_step)


class EarlyStopCallback(TrainerCallback, RestorableState):
    """Stops training when the validation metric that ``SaveBestCallback`` tracks has
    not improved by more than ``threshold`` on the best value so far for ``patience``
    evaluations in a row (transformers' ``EarlyStoppingCallback`` needs
    ``load_best_model_at_end`` and the Trainer's own best-checkpoint bookkeeping, which
    this project replaces with best/). Its count survives a resume."""

    ATTRIBUTES = ("best", "best_step", "bad_evaluations", "stopped_step", "stopped_epoch")

    def __init__(self, metric: str, patience: int, threshold: float = 0.0, greater_is_better: bool = True):
        if patience < 1:
            raise ValueError(f"early stopping patience must be at least 1, got {patience}")
        self.metric = metric if metric.startswith("eval_") else f"eval_{metric}"
        self.patience = patience
        self.threshold = threshold
        self.sign = 1.0 if greater_is_better else -1.0
        self.best: float | None = None
        self.best_step: int | None = None
        self.bad_evaluations = 0
        self.stopped_step: int | None = None
        self.stopped_epoch: float | None = None
        self._warned_missing = False

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics or self.metric not in metrics:
            if not self._warned_missing:
                log.warning(
                    "early stopping: the validation metrics have no %s; it cannot stop training (known: %s)",
                    self.metric,
                    sorted(k for k in (metrics or {}) if k.startswith("eval_")),
                )
                self._warned_missing = True
            return
        value = float(metrics[self.metric])
        if self.best is None or self.sign * (value - self.best) > self.threshold:
            self.best = value
            self.best_step = state.global_step
            self.bad_evaluations = 0
            return
        self.bad_evaluations += 1
        if self.bad_evaluations >= self.patience and self.stopped_step is None:
            self.stopped_step = state.global_step
            self.stopped_epoch = state.epoch
            control.should_training_stop = True
            log.info(
                "stopped early at step %d (epoch %s): %s has not improved on %.4f for %d evaluations",
                state.global_step,
                f"{state.epoch:.2f}" if state.epoch is not None else "?",
                self.metric.removeprefix("eval_"),
                self.best,
                self.bad_evaluations,
            )

    def summary(self) -> dict[str, Any]:
        return {
            "stopped_early": self.stopped_step is not None,
            "metric": self.metric,
            "patience": self.patience,
            "threshold": self.threshold,
            "stopped_at_step": self.stopped_step,
            "stopped_at_epoch": self.stopped_epoch,
            "best_step": self.best_step,
            "best_value": self.best,
            "evaluations_without_improvement": self.bad_evaluations,
        }
