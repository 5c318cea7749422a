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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, write_json
from gpu_phases import infer_phase, peak_flops, train_config, train_flops, train_phase
from qwen3_synthetic import (
    QWEN3_06B,
    QWEN3_WORDS,
    TINY,
    TINY_WORDS,
    build_model_folder,
    pair_lengths,
    prompt_config,
    write_data,
)

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
        write_json(path, result, default=str)

    result = run(args, dump)
    print("\n" + report(result) + f"\nwritten: {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
