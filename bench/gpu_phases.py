"""The measured phases of ``gpu_generative.py``: training through rankwright's own
``train`` (with a step clock for the steady-state rate), its FLOPs and MFU, and scoring
with ``Reranker.from_pretrained`` on the trained folder."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import cuda_peak_memory, cuda_sync, free_cuda
from qwen3_synthetic import doc_lengths, words
from transformers import TrainerCallback

import rankwright.training.run as run_module
from rankwright.config import from_dict
from rankwright.inference.reranker import Reranker
from rankwright.training.config import TrainConfig

#: Dense bf16 tensor-core peak (no sparsity), FLOP/s, by a substring of the device name.
PEAK_BF16 = [
    ("H200", 989.4e12),
    ("H100 PCIe", 756.0e12),
    ("H100 NVL", 835.0e12),
    ("H100", 989.4e12),  # SXM (the "H100 80GB HBM3")
    ("A100", 312.0e12),
]


class StepClock(TrainerCallback):
    """Wall time and pairs seen at a few steps, the GPU synchronised only there, so the
    steady-state rate leaves out the first ``skip`` steps (allocator growth, kernel
    selection, first-call overheads). Past ``budget_s`` of training it stops the run
    (the rate is then over the steps done), so a slow machine still reports."""

    def __init__(self, skip: int, budget_s: float, pairs_per_step: int):
        self.skip = skip
        self.budget_s = budget_s
        self.pairs_per_step = pairs_per_step  # pairs mode: every step is one full batch of pairs
        self.model = None
        self.stopped_early = False
        self.marks: dict[str, tuple[int, float, int]] = {}

    def _mark(self, name: str, step: int) -> None:
        cuda_sync()
        self.marks[name] = (step, time.perf_counter(), step * self.pairs_per_step)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.model = model
        self._mark("begin", 0)

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if step == 1:
            self._mark("first", 1)
        if step == self.skip:
            self._mark("warm", step)
        over_budget = time.perf_counter() - self.marks["begin"][1] > self.budget_s
        if step == state.max_steps or over_budget:
            self._mark("end", step)
            if step < state.max_steps:
                self.stopped_early = True
                control.should_training_stop = True

    def window(self, start: str, end: str = "end") -> dict[str, float] | None:
        if start not in self.marks or end not in self.marks or self.marks[end][0] <= self.marks[start][0]:
            return None
        (s0, t0, p0), (s1, t1, p1) = self.marks[start], self.marks[end]
        return {"steps": s1 - s0, "seconds": t1 - t0, "pairs": p1 - p0, "pairs_per_second": (p1 - p0) / (t1 - t0)}


def peak_flops(name: str, override_tflops: float | None) -> tuple[float | None, str]:
    if override_tflops:
        return override_tflops * 1e12, f"--peak-tflops {override_tflops}"
    for key, value in PEAK_BF16:
        if key in name:
            return value, f"{key}: dense bf16 {value / 1e12:.1f} TFLOP/s"
    return None, f"unknown device {name!r}: pass --peak-tflops"


def train_config(
    model_dir: Path, data_path: Path, out_dir: Path, prompt: dict[str, Any], sizes: dict[str, int], bf16: bool, args
) -> TrainConfig:
    return from_dict(
        TrainConfig,
        {
            "data": {"path": str(data_path)},
            "split": {"ratios": [1.0, 0.0, 0.0]},  # every generated pair trains
            "model": {
                "name": str(model_dir),
                "type": "generative",
                "max_length": sizes["max_length"],
                "dtype": "bfloat16" if bf16 else "float32",
                "attn_implementation": args.attn,
                "prompt": prompt,
            },
            "loss": {"name": "bce"},
            "sampling": {"mode": "pairs"},
            "training": {
                "max_steps": sizes["steps"],
                "batch_size": sizes["batch_size"],
                "learning_rate": 1e-4,
                "bf16": bf16,
                "eval_strategy": "no",
                "save_steps": sizes["steps"] + 1000,
                "logging_steps": sizes["steps"] + 1000,
                "seed": 0,
                "gradient_checkpointing": args.gradient_checkpointing,
            },
            "lora": {"enabled": True},
            "output_dir": str(out_dir),
            "progress": False,
        },
    )


def train_phase(config: TrainConfig, sizes: dict[str, int], tokens_per_pair: float, budget_s: float) -> dict:
    clock = StepClock(
        min(sizes["warmup_steps"], sizes["steps"] - 1),
        budget_s,
        config.training.batch_size * config.training.grad_accum,
    )
    free_cuda()
    run_module.train(config, callbacks=[clock])
    memory = cuda_peak_memory()
    summary = json.loads((Path(config.output_dir) / "train_summary.json").read_text())
    model = clock.model
    steady = clock.window("warm") or clock.window("begin")
    out = {
        "steps": summary["global_steps"],
        "stopped_early_by_budget": clock.stopped_early,
        "pairs_seen": summary["pairs_seen"],
        "train_runtime_s": summary["train_runtime_s"],
        "pairs_per_second_whole_run": summary["pairs_per_second"],
        "first_step_s": (clock.window("begin", "first") or {}).get("seconds"),
        "steady_state": steady,
        "steady_pairs_per_second": steady["pairs_per_second"],
        "steady_tokens_per_second": steady["pairs_per_second"] * tokens_per_pair,
        **memory,
        "trainable_parameters": _trainable(model),
        "attn_implementation_used": _attn_impl(model),
        "train_loss": summary.get("train_loss"),
    }
    clock.model = None
    del model
    free_cuda()
    return out


def train_flops(tokens_per_second: float, n_params: int, spec: dict, tokens_per_pair: float, peak) -> dict:
    flops: dict[str, Any] = {
        "convention": f"FLOPs/token = k * N, N = {n_params:,} parameters outside the embedding matrix (tied to the "
        "LM head, of which only the 2 label rows are computed); attention score/value products excluded; tokens "
        "are real (unpadded) tokens",
        "N": n_params,
        "peak_flops": peak,
    }
    for k, label in ((6, "6N_full_training"), (4, "4N_lora_needed")):
        achieved = tokens_per_second * k * n_params
        flops[label] = {"achieved_tflops": achieved / 1e12, "mfu": achieved / peak if peak else None}
    # QK^T and AV per token at the mean length: 2 * 2 * T * d_attn forward, causal half, x3 fwd+bwd
    attention = 3 * 2 * spec["num_hidden_layers"] * spec["num_attention_heads"] * spec["head_dim"] * tokens_per_pair
    flops["attention_training_flops_per_token"] = attention
    flops["attention_share_vs_6N"] = attention / (6 * n_params)
    return flops


def infer_phase(
    final_dir: Path, rng: np.random.Generator, n_words: int, sizes: dict[str, int], bf16: bool, n_params: int, peak
) -> dict[str, Any]:
    free_cuda()
    start = time.perf_counter()
    reranker = Reranker.from_pretrained(final_dir, dtype="bfloat16" if bf16 else "float32")
    load_s = time.perf_counter() - start
    n, batch, per_query = sizes["infer_pairs"], sizes["infer_batch_size"], sizes["docs_per_query"]
    queries = [words(rng, n_words, int(rng.integers(5, 12))) for _ in range(-(-n // per_query))]
    queries = [q for q in queries for _ in range(per_query)][:n]
    docs = [words(rng, n_words, int(length)) for length in doc_lengths(rng, n)]
    warm = sizes["infer_warmup_pairs"]
    reranker.logits(queries[:warm], docs[:warm], batch_size=batch, progress=False)
    start = time.perf_counter()
    tokens = sum(len(f["input_ids"]) for f in reranker.head.encode(queries, docs))
    encode_s = time.perf_counter() - start
    cuda_sync()
    start = time.perf_counter()
    scores = reranker.logits(queries, docs, batch_size=batch, progress=False)
    cuda_sync()
    seconds = time.perf_counter() - start
    if not np.isfinite(scores).all():
        raise RuntimeError("non-finite scores")
    achieved = tokens / seconds * 2 * n_params
    return {
        "pairs": n,
        "batch_size": batch,
        "dtype": str(next(reranker.model.parameters()).dtype),
        "adapter": bool(reranker.metadata.adapter),
        "load_s": load_s,
        "tokens_per_pair_mean": tokens / n,
        "seconds": seconds,
        "tokenize_seconds_included": encode_s,
        "pairs_per_second": n / seconds,
        "tokens_per_second": tokens / seconds,
        "achieved_tflops_2N": achieved / 1e12,
        "mfu_2N": achieved / peak if peak else None,
        **cuda_peak_memory(),
    }


def _trainable(model) -> dict[str, int] | None:
    if model is None or not hasattr(model, "get_nb_trainable_parameters"):
        return None
    trainable, total = model.get_nb_trainable_parameters()
    return {"trainable": int(trainable), "total": int(total)}


def _attn_impl(model) -> str | None:
    config = getattr(model, "config", None)
    return getattr(config, "_attn_implementation", None)
