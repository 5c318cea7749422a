"""``TrainingArguments`` from the ``training`` section: schedule, precision, checkpoints,
and the launch settings (process-group backend, DeepSpeed, FSDP) passed through as is."""

from __future__ import annotations

import logging
import os
from dataclasses import fields
from typing import Any

import torch
from transformers import TrainingArguments

from rankwright.training.config import TrainConfig

log = logging.getLogger(__name__)


def checkpointing_args() -> dict[str, Any]:
    """Activation checkpointing, non-reentrant (LoRA's frozen inputs need no
    requires_grad trick), under the argument name this transformers uses."""
    names = {f.name for f in fields(TrainingArguments)}
    prefix = "activation" if "activation_checkpointing" in names else "gradient"
    return {f"{prefix}_checkpointing": True, f"{prefix}_checkpointing_kwargs": {"use_reentrant": False}}


def launched_processes() -> int:
    """Processes of this launch (torchrun, accelerate launch set ``WORLD_SIZE``; 1 without one)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def launch_args(config: TrainConfig, cuda: bool | None = None, processes: int | None = None) -> dict[str, Any]:
    """The multi-process settings: ``ddp_backend`` when launched on several processes
    (gloo on CPU unless set; a backend in one process would make accelerate look for a
    process group), and the DeepSpeed and FSDP configs where given. ``cuda``: whether a
    GPU trains (default: whether one is available); ``processes``: default from the
    launcher's environment."""
    t = config.training
    cuda = torch.cuda.is_available() if cuda is None else cuda
    processes = launched_processes() if processes is None else processes
    out: dict[str, Any] = {}
    backend = t.ddp_backend or (None if cuda else "gloo")
    if backend and processes > 1:
        out["ddp_backend"] = backend
    if t.deepspeed:
        out["deepspeed"] = t.deepspeed
    if t.fsdp:
        out["fsdp"] = t.fsdp
    if t.fsdp_config:
        out["fsdp_config"] = t.fsdp_config
    if t.deepspeed or t.fsdp:
        log.warning(
            "training.deepspeed/fsdp are passed to the Trainer untested: validation and best/ final/ saving need the "
            "whole model on each process (no ZeRO-3, no FSDP sharding); see the training.deepspeed help"
        )
    return out


def training_kwargs(config: TrainConfig, eval_strategy: str) -> dict[str, Any]:
    """The keyword arguments of ``TrainingArguments`` for ``config`` (``eval_strategy``:
    ``no`` where there is no validation data)."""
    t = config.training
    cuda = torch.cuda.is_available()
    return {
        "output_dir": config.output_dir,
        "num_train_epochs": t.epochs,
        "max_steps": t.max_steps,
        "per_device_train_batch_size": t.batch_size,
        "per_device_eval_batch_size": t.eval_batch_size,
        "gradient_accumulation_steps": t.grad_accum,
        "learning_rate": t.learning_rate,
        "weight_decay": t.weight_decay,
        "warmup_steps": t.warmup_ratio,
        "lr_scheduler_type": "linear",
        "max_grad_norm": t.max_grad_norm,
        "bf16": t.bf16,
        "fp16": t.fp16,
        "eval_strategy": eval_strategy,
        "eval_steps": t.eval_steps,
        "save_strategy": "steps",
        "save_steps": t.save_steps,
        "save_total_limit": t.save_total_limit,
        "logging_steps": t.logging_steps,
        "seed": t.seed,
        "report_to": t.report_to,
        "remove_unused_columns": False,
        **(checkpointing_args() if t.gradient_checkpointing else {}),
        "dataloader_num_workers": t.dataloader_num_workers,
        "disable_tqdm": not config.progress,
        "use_cpu": not cuda,
        # DDP would otherwise broadcast buffers at every forward call, a collective, and
        # ranks make different numbers of calls (one per length bucket of their batch):
        # they would pair up wrongly and hang. Transformer buffers are constants.
        "ddp_broadcast_buffers": False,
        **launch_args(config, cuda),
    }


def training_arguments(config: TrainConfig, eval_strategy: str) -> TrainingArguments:
    """``TrainingArguments`` for ``config``; under torchrun or accelerate launch this
    joins the process group."""
    return TrainingArguments(**training_kwargs(config, eval_strategy))
