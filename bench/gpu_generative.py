"""GPU benchmark of generative reranker training and scoring, offline.

A randomly initialised Qwen3-0.6B (its published configuration, written out below; the
timings do not depend on the weight values) and an in-memory word-level tokenizer
(``t0`` .. ``tN`` map 1:1 to token ids) are saved to a temporary folder. Synthetic
relevance data (JSONL: ~8-token queries, ~200-token documents, 8 documents per query,
labels 0/1) is written next to them, and then rankwright's real training path runs:
``rankwright.training.run.train`` with a custom prompt (a ~60-token stand-in for a system
prompt), LoRA on the default targets, bf16, BCE on pairs, a fixed number of steps.
The trained folder is then loaded with ``Reranker.from_pretrained`` (base + adapter) and
scores synthetic pairs.

Reported: training pairs/s over the whole run (``train_summary.json``) and in steady
state (the first steps excluded), tokens/s, an MFU estimate, peak GPU memory, and
inference pairs/s. FLOPs per token follow the usual convention: 6N for a full training
step (2N forward, 4N backward), N the parameters outside the embedding matrix (tied to
the LM head here; the head only computes the two label rows), attention score/value
products excluded. With LoRA the frozen weights need no weight gradients, so 4N is the
work actually required; MFU is reported for both. Inference counts 2N per token.

    PYTHONPATH=src python bench/gpu_generative.py            # GPU: Qwen3-0.6B shape
    PYTHONPATH=src python bench/gpu_generative.py --tiny     # CPU smoke test: 2 layers, hidden 64
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast, Qwen3Config, TrainerCallback

import rankwright.training.run as run_module
from rankwright.config import from_dict
from rankwright.inference.reranker import Reranker
from rankwright.training.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]

#: Qwen/Qwen3-0.6B config.json (architecture fields; the weights here are random).
QWEN3_06B = {
    "vocab_size": 151936,
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 40960,
    "rope_theta": 1_000_000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}
#: Word tokens t0 .. t{n-1} then the special tokens, as Qwen3's tokenizer numbers them
#: (151643 regular tokens, <|endoftext|> = 151643, <|im_start|>, <|im_end|> = 151645);
#: the embedding matrix is padded beyond them to ``vocab_size`` as in the real model.
QWEN3_WORDS = 151643
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
TINY = {
    **QWEN3_06B,
    "vocab_size": 16000,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "bos_token_id": 15900,
    "eos_token_id": 15902,
}
TINY_WORDS = 15900
LABEL_WORDS = ["t9693", "t2152"]  # [positive, negative]

#: Dense bf16 tensor-core peak (no sparsity), FLOP/s, by a substring of the device name.
PEAK_BF16 = [
    ("H200", 989.4e12),
    ("H100 PCIe", 756.0e12),
    ("H100 NVL", 835.0e12),
    ("H100", 989.4e12),  # SXM (the "H100 80GB HBM3")
    ("A100", 312.0e12),
]

GPU = {
    "queries": 400,
    "docs_per_query": 8,
    "steps": 120,
    "warmup_steps": 10,
    "batch_size": 16,
    "max_length": 512,
    "infer_pairs": 2048,
    "infer_batch_size": 64,
    "infer_warmup_pairs": 256,
}
SMOKE = {
    "queries": 12,
    "docs_per_query": 8,
    "steps": 4,
    "warmup_steps": 1,
    "batch_size": 4,
    "max_length": 512,
    "infer_pairs": 48,
    "infer_batch_size": 16,
    "infer_warmup_pairs": 8,
}


# -- model, tokenizer, data ---------------------------------------------------------------


def qwen3_config(spec: dict[str, Any]) -> Qwen3Config:
    spec = dict(spec)
    theta = spec.pop("rope_theta")
    # transformers 5 keeps RoPE settings in rope_parameters (rope_theta is the legacy name).
    if "rope_parameters" in Qwen3Config.__init__.__code__.co_varnames:
        spec["rope_parameters"] = {"rope_type": "default", "rope_theta": theta}
    else:
        spec["rope_theta"] = theta
    config = Qwen3Config(**spec)
    config.pad_token_id = spec["bos_token_id"]  # <|endoftext|>, as Qwen3's tokenizer pads
    return config


def word_tokenizer(n_words: int) -> PreTrainedTokenizerFast:
    """Whitespace-split words ``t0`` .. ``t{n_words-1}`` map to ids 0 .. n_words-1."""
    vocab = {f"t{i}": i for i in range(n_words)}
    vocab.update({tok: n_words + i for i, tok in enumerate(SPECIAL_TOKENS)})
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.add_special_tokens(SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<|endoftext|>",
        eos_token="<|im_end|>",
        model_max_length=40960,
    )


def non_embedding_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(all parameters, parameters outside the input embedding) -- tied weights counted once."""
    total = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    return total, total - embedding


def build_model_folder(folder: Path, spec: dict[str, Any], n_words: int, dtype: torch.dtype) -> dict[str, Any]:
    config = qwen3_config(spec)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    total, non_embedding = non_embedding_parameters(model)
    model.save_pretrained(folder)
    del model
    tokenizer = word_tokenizer(n_words)
    tokenizer.save_pretrained(folder)
    # The training path loads the tokenizer with AutoTokenizer: check it still maps 1:1.
    loaded = AutoTokenizer.from_pretrained(folder)
    probe = loaded("t123 t98 t4410", add_special_tokens=False)["input_ids"]
    if probe != [123, 98, 4410] or not loaded.is_fast:
        raise RuntimeError(f"saved word tokenizer does not round-trip: {type(loaded).__name__} gave {probe}")
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {"parameters": total, "non_embedding_parameters": non_embedding, "tokenizer_class": type(loaded).__name__}


def words(rng: np.random.Generator, n_words: int, count: int) -> str:
    return " ".join(f"t{i}" for i in rng.integers(0, n_words, size=count))


def doc_lengths(rng: np.random.Generator, count: int) -> np.ndarray:
    """Document lengths in tokens: log-normal, median ~180, mean ~200, 30..600."""
    return np.clip(rng.lognormal(np.log(180), 0.45, size=count), 30, 600).astype(int)


def write_data(path: Path, rng: np.random.Generator, n_words: int, queries: int, per_query: int) -> list[dict]:
    rows = []
    for q in range(queries):
        query = words(rng, n_words, int(rng.integers(5, 12)))  # ~8 tokens
        positives = set(rng.choice(per_query, size=int(rng.integers(1, 3)), replace=False).tolist())
        for d, length in enumerate(doc_lengths(rng, per_query)):
            rows.append(
                {
                    "query_id": f"q{q}",
                    "query": query,
                    "doc_id": f"q{q}d{d}",
                    "doc": words(rng, n_words, int(length)),
                    "label": int(d in positives),
                }
            )
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return rows


def prompt_config(rng: np.random.Generator, n_words: int) -> dict[str, Any]:
    """A custom prompt of synthetic words: a ~60-token system-prompt stand-in, a body
    laid out like Qwen3-Reranker's (instruction, query, document) and a 5-token suffix.
    Words are space-separated so no two ever merge across the pieces."""
    return {
        "template": "custom",
        "prefix": words(rng, n_words, 60) + " ",
        "suffix": " " + words(rng, n_words, 5),
        "instruction": words(rng, n_words, 14),
        "body": "t11 t12 {instruction} t13 {query} t14 {document}",
        "label_words": LABEL_WORDS,
    }


# -- timing -------------------------------------------------------------------------------


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


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
        sync()
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


def gib(n: int) -> float:
    return n / 2**30


def free_cuda() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_memory() -> dict[str, float | None]:
    if not torch.cuda.is_available():
        return {"peak_memory_gib": None, "peak_memory_reserved_gib": None}
    return {
        "peak_memory_gib": gib(torch.cuda.max_memory_allocated()),
        "peak_memory_reserved_gib": gib(torch.cuda.max_memory_reserved()),
    }


# -- the phases ---------------------------------------------------------------------------


def pair_lengths(model_dir: Path, prompt: dict[str, Any], rows: list[dict], max_length: int) -> tuple[np.ndarray, int]:
    """Tokens per pair as the training path builds them (prompt included, documents cut
    to ``max_length``), with rankwright's own head and the saved tokenizer; and the
    prompt's own tokens per pair."""
    from rankwright.models.generative import GenerativeHead
    from rankwright.models.prompts import PromptConfig, build_prompt

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    head = GenerativeHead(tokenizer, build_prompt(PromptConfig(**prompt), tokenizer), max_length)
    features = head.encode([r["query"] for r in rows], [r["doc"] for r in rows])
    unk = tokenizer.unk_token_id
    if any(unk in f["input_ids"] for f in features):
        raise RuntimeError("synthetic prompt produced unknown tokens: pieces merged across a boundary")
    return np.array([len(f["input_ids"]) for f in features]), head.pair_overhead


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
    memory = peak_memory()
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
    sync()
    start = time.perf_counter()
    scores = reranker.logits(queries, docs, batch_size=batch, progress=False)
    sync()
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
        **peak_memory(),
    }


def run(args: argparse.Namespace, dump) -> dict[str, Any]:
    """The benchmark; ``dump(result)`` is called after each phase, so a run cut short
    by a timeout still leaves what it measured."""
    cuda = torch.cuda.is_available()
    if not cuda and not args.tiny:
        raise SystemExit("no CUDA device: use --tiny for the CPU smoke test")
    sizes = dict(SMOKE if args.tiny else GPU)
    sizes.update({k: getattr(args, k) for k in sizes if getattr(args, k, None) is not None})
    spec, n_words = (TINY, TINY_WORDS) if args.tiny else (QWEN3_06B, QWEN3_WORDS)
    bf16 = cuda and not args.fp32
    dtype = torch.bfloat16 if bf16 else torch.float32
    device_name = torch.cuda.get_device_name() if cuda else platform.processor() or "cpu"
    peak, peak_note = peak_flops(device_name, args.peak_tflops) if cuda else (None, "CPU: no MFU")
    rng = np.random.default_rng(0)
    result: dict[str, Any] = {
        "benchmark": "gpu_generative",
        "mode": "tiny" if args.tiny else "qwen3-0.6b",
        "device": device_name,
        "peak_assumed": peak_note,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "transformers": transformers.__version__,
            "peft": _version("peft"),
        },
        "model_config": spec,
        "sizes": sizes,
        "dtype": str(dtype),
        "timings": {},
    }
    timings = result["timings"]
    with tempfile.TemporaryDirectory(prefix="rw-gpu-bench-", dir=args.workdir) as tmp:
        root = Path(tmp)
        model_dir, data_path, out_dir = root / "base", root / "train.jsonl", root / "run"

        start = time.perf_counter()
        result["model"] = build_model_folder(model_dir, spec, n_words, dtype)
        timings["build_and_save_model_s"] = time.perf_counter() - start
        n_params = result["model"]["non_embedding_parameters"]

        prompt = prompt_config(rng, n_words)
        rows = write_data(data_path, rng, n_words, sizes["queries"], sizes["docs_per_query"])
        lengths, prompt_tokens = pair_lengths(model_dir, prompt, rows, sizes["max_length"])
        tokens_per_pair = float(lengths.mean())
        result["data"] = {
            "pairs": len(rows),
            "queries": sizes["queries"],
            "positives": sum(r["label"] for r in rows),
            "tokens_per_pair_mean": tokens_per_pair,
            "tokens_per_pair_note": "over all generated pairs; the pairs trained on are a random sample of them",
            "tokens_per_pair_p50": float(np.median(lengths)),
            "tokens_per_pair_max": int(lengths.max()),
            "pairs_cut_to_max_length": int((lengths >= sizes["max_length"]).sum()),
            "prompt_tokens_per_pair": prompt_tokens,
        }
        config = train_config(model_dir, data_path, out_dir, prompt, sizes, bf16, args)
        result["train_config"] = {
            "loss": "bce",
            "sampling": "pairs",
            "lora": {"r": config.lora.r, "alpha": config.lora.alpha, "targets": "default (q/k/v/o_proj)"},
            "bf16": bf16,
            "gradient_checkpointing": args.gradient_checkpointing,
            "attn_implementation": args.attn or "transformers default",
        }
        dump(result)

        start = time.perf_counter()
        result["train"] = train_phase(config, sizes, tokens_per_pair, args.train_budget_s)
        timings["train_call_s"] = time.perf_counter() - start
        result["train_flops"] = train_flops(
            result["train"]["steady_tokens_per_second"], n_params, spec, tokens_per_pair, peak
        )
        dump(result)

        result["inference"] = infer_phase(out_dir / "final", rng, n_words, sizes, bf16, n_params, peak)
        dump(result)
    return result


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _trainable(model) -> dict[str, int] | None:
    if model is None or not hasattr(model, "get_nb_trainable_parameters"):
        return None
    trainable, total = model.get_nb_trainable_parameters()
    return {"trainable": int(trainable), "total": int(total)}


def _attn_impl(model) -> str | None:
    config = getattr(model, "config", None)
    return getattr(config, "_attn_implementation", None)


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def report(result: dict[str, Any]) -> str:
    train, flops, inf, data = result["train"], result["train_flops"], result["inference"], result["data"]
    lines = [
        f"device: {result['device']} | torch {result['versions']['torch']} | transformers "
        f"{result['versions']['transformers']} | peft {result['versions']['peft']} | {result['mode']}",
        f"model: {result['model']['parameters']:,} parameters, N = {flops['N']:,} outside the embedding; "
        f"LoRA trainable {(train['trainable_parameters'] or {}).get('trainable', 'n/a')}; "
        f"attention {train['attn_implementation_used']}",
        f"data: {data['pairs']} pairs, {data['tokens_per_pair_mean']:.1f} tokens/pair mean (prompt included), "
        f"{data['pairs_cut_to_max_length']} cut to max_length",
        f"train: {train['steps']} steps x {result['sizes']['batch_size']} pairs in {train['train_runtime_s']:.1f} s "
        f"= {train['pairs_per_second_whole_run']:.1f} pairs/s whole run "
        f"(first step {_fmt(train['first_step_s'], '.2f')} s)",
        f"train steady state ({train['steady_state']['steps']} steps): {train['steady_pairs_per_second']:.1f} pairs/s, "
        f"{train['steady_tokens_per_second']:,.0f} tokens/s",
        f"train FLOP/s: {flops['6N_full_training']['achieved_tflops']:.1f} TFLOP/s at 6N "
        f"(MFU {_fmt(flops['6N_full_training']['mfu'], '.1%')}), "
        f"{flops['4N_lora_needed']['achieved_tflops']:.1f} at 4N (MFU {_fmt(flops['4N_lora_needed']['mfu'], '.1%')}); "
        f"peak {result['peak_assumed']}",
        f"train peak GPU memory: {_fmt(train['peak_memory_gib'], '.2f')} GiB allocated, "
        f"{_fmt(train['peak_memory_reserved_gib'], '.2f')} GiB reserved",
        f"inference ({inf['dtype']}, adapter {inf['adapter']}): {inf['pairs']} pairs at batch {inf['batch_size']} in "
        f"{inf['seconds']:.2f} s = {inf['pairs_per_second']:.1f} pairs/s, {inf['tokens_per_second']:,.0f} tokens/s, "
        f"MFU(2N) {_fmt(inf['mfu_2N'], '.1%')}, peak {_fmt(inf['peak_memory_gib'], '.2f')} GiB "
        f"(tokenising {inf['tokenize_seconds_included']:.2f} s of it)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="2-layer hidden-64 model, few steps: a CPU smoke test")
    parser.add_argument("--out", help="folder for the JSON (default: $OUT, else bench/results)")
    parser.add_argument("--workdir", help="where the temporary model/data folder goes (default: the system's)")
    parser.add_argument("--steps", type=int, help="optimizer steps (GPU default 120)")
    parser.add_argument("--warmup-steps", dest="warmup_steps", type=int, help="steps left out of the steady rate")
    parser.add_argument("--batch-size", dest="batch_size", type=int, help="pairs per step (default 16)")
    parser.add_argument("--max-length", dest="max_length", type=int, help="tokens per pair (default 512)")
    parser.add_argument("--queries", type=int, help="synthetic training queries (8 documents each)")
    parser.add_argument("--infer-pairs", dest="infer_pairs", type=int, help="pairs scored (default 2048)")
    parser.add_argument("--infer-batch-size", dest="infer_batch_size", type=int, help="scoring batch (default 64)")
    parser.add_argument("--attn", help="model.attn_implementation, e.g. sdpa or eager (default: transformers')")
    parser.add_argument("--gradient-checkpointing", action="store_true", help="training.gradient_checkpointing")
    parser.add_argument("--fp32", action="store_true", help="float32 weights and no bf16 (default on CPU)")
    parser.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak, when not recognised")
    parser.add_argument(
        "--train-budget-s", type=float, default=120.0, help="stop training after this long (default 120)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("rankwright").setLevel(logging.INFO)

    out = Path(args.out or os.environ.get("OUT") or REPO / "bench" / "results")
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("gpu_generative_tiny.json" if args.tiny else "gpu_generative.json")

    def dump(result: dict[str, Any]) -> None:
        path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")

    result = run(args, dump)
    print("\n" + report(result) + f"\nwritten: {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
