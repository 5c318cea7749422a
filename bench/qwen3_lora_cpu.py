"""LoRA training and scoring of a Qwen3-0.6B-shaped reranker on CPU (or a GPU): rankwright
against a plain transformers + peft loop that computes full-vocabulary logits.

What: a Qwen3-0.6B built from its published configuration (random weights; time and
memory do not depend on their values) with the real Qwen3 tokenizer (151,936-row
vocabulary) is fine-tuned with LoRA for a few steps at batch x length points (default
4x256 and 8x512), in variants fp32 / bf16 x gradient checkpointing off / on, two ways:

- rankwright: ``rankwright train`` (the CLI entry point, run in a child process, with a
  step clock added as a Trainer callback), model.type generative, the qwen3-reranker
  yes/no prompt, BCE on pairs, LoRA with rankwright's defaults (r 16, alpha 32, dropout
  0.05, q/k/v/o_proj), eval_strategy no. The LM head computes only the two label rows.
  Then ``Reranker.from_pretrained`` on the trained folder scores 4 x batch pairs.
- naive: the way the seeds do it: ``AutoModelForCausalLM`` + peft with the same LoRA
  settings, a forward to full logits ``[batch, length, 151936]``, cross-entropy over the
  last position's yes/no logits, backward, gradient clipping, an AdamW step; scoring
  reads the yes/no logits out of full logits under ``torch.inference_mode``.

Both see the same tokens: every pair is cut to exactly ``length`` tokens (documents are
long, rankwright's head cuts them; the naive loop gets the head's token ids, tokenised
before the clock starts), so a batch is exactly batch x length. Each measurement runs in
its own child process (``--child``).

How precision is meant: on CPU, "bf16" is fp32 weights under bf16 autocast (what
``training.bf16`` does there; scoring loads bf16 weights); on CUDA it is bf16 weights
(``model.dtype bfloat16``) and bf16 autocast. "4bit" (QLoRA, NF4 base, bf16 compute) is
CUDA-only: on CPU the script records the error ``rankwright train`` gives for it.

Measured, per point and variant, for both systems: seconds per optimizer step with the
first step left out (steps 2..N; ``--steps``, default 3), pairs/s, peak RSS of the child
during the steps (the peak is reset once the model is loaded, via /proc/self/clear_refs)
and its growth over the RSS before the first step (the rankwright process holds ~200 MiB
more to begin with: tokenizer, data, Trainer; the growth is what the step costs), peak
GPU memory on CUDA, and the ratios rankwright / naive. Scoring, once per precision on the
first such variant's trained folder: seconds and pairs/s for 4 x batch pairs after a
warm-up batch (rankwright's time includes tokenising and runs the pairs' common leading
tokens once, its prefix sharing; the naive loop's forward is ``use_cache=False`` like
rankwright's pair forward, so the difference is the logits), and its peak RSS. A child
whose RSS passes ``--rss-limit-gib`` (default 90% of the memory available at the start)
is stopped and reported as such, not left to the OOM killer. Output:
bench/results/qwen3_lora_cpu.json (``qwen3_lora_cuda.json`` on CUDA, ``*_tiny.json`` for
``--tiny``; ``--out`` another folder), written after every measurement, and a markdown
table.
The step times are of 2 cores shared with nothing else: another busy process makes
torch's threads wait on each other and the times several-fold longer.

    PYTHONPATH=src python bench/qwen3_lora_cpu.py --tiny          # smoke test: bf16-ckpt at 2x256, ~1 min
    PYTHONPATH=src python bench/qwen3_lora_cpu.py                 # 4x256,8x512 x fp32,fp32-ckpt,bf16,bf16-ckpt
    PYTHONPATH=src python bench/qwen3_lora_cpu.py --points 4x256 --variants bf16,bf16-ckpt --steps 4
    PYTHONPATH=src python bench/qwen3_lora_cpu.py --points 8x512 --variants bf16-ckpt --merge  # add to the JSON
    PYTHONPATH=src python bench/qwen3_lora_cpu.py --device cuda --variants bf16,bf16-ckpt,4bit --steps 10

The model folder (fp32 safetensors, ~2.4 GB, plus the tokenizer files) is built once
under ``--work`` (default /tmp/rw-qwen3-lora) and reused. The published config and the
tokenizer are read from ``$RANKWRIGHT_SHARED_DATA`` (default ../shared/data):
qwen3-0.6b-config/ and qwen3-tokenizer/. ``--tiny`` keeps the real tokenizer and its
vocabulary but has 2 layers of hidden size 64 (qwen3_synthetic.TINY's shape).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    REPO,
    SHARED_DATA,
    cuda_peak_memory,
    cuda_sync,
    free_cuda,
    machine,
    ratio,
    release_freed_memory,
    write_json,
)
from qwen3_synthetic import TINY, non_embedding_parameters

DEFAULT_POINTS = "4x256,8x512"
DEFAULT_VARIANTS = "fp32,fp32-ckpt,bf16,bf16-ckpt"
TINY_POINTS = "2x256"
TINY_VARIANTS = "bf16-ckpt"
PRECISIONS = ("fp32", "bf16", "4bit")
#: the architecture fields ``--tiny`` takes from qwen3_synthetic.TINY (vocabulary and special ids stay Qwen3's)
TINY_SHAPE = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads")
INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
DOCS_PER_QUERY = 8
LEARNING_RATE = 1e-4
QLORA_NOTE = "QLoRA"  # the CPU error names it; see rankwright.models.loading.quantization_config


# -- memory of this process ----------------------------------------------------------------


def _status_mib(name: str) -> float | None:
    """A /proc/self/status field (VmRSS, VmHWM) in MiB."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{name}:\s+(\d+) kB", text, re.M)
    return int(found.group(1)) / 1024 if found else None


def reset_peaks() -> dict[str, Any]:
    """Free what can be freed, then restart the peak RSS (VmHWM) and peak GPU counters;
    returns the RSS then and the process's peak before the reset."""
    before = _status_mib("VmHWM")
    release_freed_memory()
    free_cuda()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak RSS to the current RSS
        reset = True
    except OSError:
        reset = False
    return {"rss_at_start_mib": _status_mib("VmRSS"), "peak_rss_before_start_mib": before, "peak_rss_reset": reset}


def peaks_since_reset(start: dict[str, Any]) -> dict[str, Any]:
    """The peaks since :func:`reset_peaks` (which returned ``start``), and the RSS growth over it."""
    cuda_sync()
    peak = _status_mib("VmHWM")
    growth = peak - start["rss_at_start_mib"] if peak is not None and start.get("rss_at_start_mib") else None
    return {"peak_rss_mib": peak, "peak_rss_growth_mib": growth, **cuda_peak_memory()}


# -- the model folder and the data ---------------------------------------------------------


def model_config(tiny: bool):
    """Qwen3-0.6B's published config (``--tiny``: TINY's layer shape, the real vocabulary)."""
    from transformers import AutoConfig

    fields = json.loads((SHARED_DATA / "qwen3-0.6b-config" / "config.json").read_text())
    if tiny:
        fields.update({k: TINY[k] for k in TINY_SHAPE}, head_dim=TINY["head_dim"], max_window_layers=2)
    return AutoConfig.for_model(fields.pop("model_type"), **fields)


def build_model_folder(folder: Path, tiny: bool) -> dict[str, Any]:
    """Random fp32 weights from the config, the real tokenizer files beside them; an
    existing folder built the same way is reused."""
    config = model_config(tiny)
    fields = json.loads(json.dumps(config.to_diff_dict(), default=str))
    stamp = folder / "bench_build.json"
    if stamp.exists():
        info = json.loads(stamp.read_text())
        if info.get("config") == fields:
            return {**info["model"], "reused": True}
    from transformers import AutoModelForCausalLM

    start = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    total, non_embedding = non_embedding_parameters(model)
    model.save_pretrained(folder)
    del model
    free_cuda()
    release_freed_memory()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(SHARED_DATA / "qwen3-tokenizer" / name, folder / name)
    info = {"parameters": total, "non_embedding_parameters": non_embedding, "build_s": time.perf_counter() - start}
    write_json(stamp, {"config": fields, "model": info})
    return {**info, "reused": False}


def prompt_config() -> dict[str, Any]:
    return {"template": "qwen3-reranker", "instruction": INSTRUCTION, "label_words": ["yes", "no"]}


def word_list(tokenizer) -> list[str]:
    """Lower-case words that are single tokens with a leading space (``Ġword``)."""
    return sorted(t[1:] for t in tokenizer.get_vocab() if re.fullmatch(r"Ġ[a-z]{3,9}", t))


def write_data(folder: Path, model_dir: Path, batch: int, length: int, pairs: int) -> dict[str, Any]:
    """``pairs`` relevance pairs (8 per query, 1-2 positive) whose documents are longer
    than ``length`` tokens, the JSONL ``rankwright train`` reads, and the token ids
    rankwright's head makes of them (every pair cut to ``length``) for the naive loop."""
    from transformers import AutoTokenizer

    from rankwright.models.generative import GenerativeHead
    from rankwright.models.prompts import PromptConfig, build_prompt

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    vocab = word_list(tokenizer)
    rng = np.random.default_rng(length)
    rows = []
    for q in range(math.ceil(pairs / DOCS_PER_QUERY)):
        query = " ".join(rng.choice(vocab, size=8))
        positives = set(rng.choice(DOCS_PER_QUERY, size=int(rng.integers(1, 3)), replace=False).tolist())
        for d in range(DOCS_PER_QUERY):
            doc = " ".join(rng.choice(vocab, size=length + 32)).capitalize() + "."
            rows.append(
                {"query_id": f"q{q}", "query": query, "doc_id": f"q{q}d{d}", "doc": doc, "label": int(d in positives)}
            )
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"pairs_{batch}x{length}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    head = GenerativeHead(tokenizer, build_prompt(PromptConfig(**prompt_config()), tokenizer), length)
    features = head.encode([r["query"] for r in rows], [r["doc"] for r in rows])
    lengths = np.array([len(f["input_ids"]) for f in features])
    tokens = folder / f"tokens_{batch}x{length}.json"
    write_json(
        tokens,
        {
            "input_ids": [f["input_ids"] for f in features],
            "labels": [r["label"] for r in rows],
            "label_ids": head.label_ids,
            "queries": [r["query"] for r in rows],
            "docs": [r["doc"] for r in rows],
        },
        newline=False,
    )
    return {
        "data": str(data),
        "tokens": str(tokens),
        "pairs": len(rows),
        "tokens_per_pair_mean": float(lengths.mean()),
        "tokens_per_pair_min": int(lengths.min()),
        "tokens_per_pair_max": int(lengths.max()),
        "prompt_tokens_per_pair": head.pair_overhead,
        "label_token_ids": head.label_ids,
        "vocabulary_words_sampled": len(vocab),
    }


# -- settings shared by both systems -------------------------------------------------------


def lora_settings() -> dict[str, Any]:
    """rankwright's LoRA defaults (the naive loop uses the same)."""
    from rankwright.training.config import LoraConfig
    from rankwright.training.model_setup import ATTENTION_PROJECTIONS

    d = LoraConfig()
    return {"r": d.r, "alpha": d.alpha, "dropout": d.dropout, "target_modules": list(ATTENTION_PROJECTIONS)}


def parse_variant(name: str) -> dict[str, Any]:
    """``PRECISION[-ckpt][-nopack]``: ``-nopack`` trains rankwright on padded batches
    (``sampling.packing false``); the naive loop never packs."""
    precision, _, rest = name.partition("-")
    flags = rest.split("-") if rest else []
    if precision not in PRECISIONS or flags not in ([], ["ckpt"], ["nopack"], ["ckpt", "nopack"]):
        raise argparse.ArgumentTypeError(
            f"variant {name!r}: expected fp32|bf16|4bit, optionally -ckpt, then optionally -nopack"
        )
    return {"name": name, "precision": precision, "checkpointing": "ckpt" in flags, "packing": "nopack" not in flags}


def parse_point(text: str) -> tuple[int, int]:
    found = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"point {text!r}: expected BATCHxLENGTH, e.g. 4x256")
    return int(found.group(1)), int(found.group(2))


def weights_dtype(precision: str, device: str) -> str:
    """model.dtype for rankwright and the naive loop: bf16 weights only for bf16 on CUDA
    (on CPU bf16 is autocast over fp32 weights) and as QLoRA's compute dtype."""
    return "bfloat16" if precision == "4bit" or (precision == "bf16" and device == "cuda") else "float32"


def precision_note(precision: str, device: str) -> str:
    if precision == "fp32":
        return "fp32 weights, no autocast"
    if precision == "bf16":
        return "bf16 weights + bf16 autocast" if device == "cuda" else "fp32 weights + bf16 autocast (CPU)"
    return "NF4 4-bit base (bitsandbytes), bf16 compute, LoRA (QLoRA)"


def rankwright_config(spec: dict[str, Any]) -> dict[str, Any]:
    """The YAML ``rankwright train --config`` reads for a measurement."""
    lora = spec["lora"]
    precision = spec["precision"]
    return {
        "data": {"path": spec["data"]},
        "split": {"ratios": [1.0, 0.0, 0.0]},  # every pair trains; no validation
        "model": {
            "name": spec["model_dir"],
            "type": "generative",
            "max_length": spec["length"],
            "dtype": weights_dtype(precision, spec["device"]),
            "prompt": prompt_config(),
        },
        "loss": {"name": "bce"},
        "sampling": {"mode": "pairs", "packing": spec.get("packing", True)},
        "lora": {
            "enabled": True,
            "r": lora["r"],
            "alpha": lora["alpha"],
            "dropout": lora["dropout"],
            "quantize": "4bit" if precision == "4bit" else None,
        },
        "training": {
            "max_steps": spec["steps"],
            "batch_size": spec["batch"],
            "learning_rate": LEARNING_RATE,
            "bf16": precision in ("bf16", "4bit"),
            "gradient_checkpointing": spec["checkpointing"],
            "eval_strategy": "no",
            "save_steps": spec["steps"] + 1000,
            "logging_steps": spec["steps"] + 1000,
            "seed": 0,
        },
        "output_dir": spec["out_dir"],
        "overwrite": True,
        "progress": False,
    }


# -- the children: one measurement each ----------------------------------------------------


def child_rankwright_train(spec: dict[str, Any]) -> dict[str, Any]:
    """``rankwright train --config`` through the CLI's own entry point, with a step clock
    that also resets the memory peaks once the model is loaded."""
    import functools

    from gpu_phases import StepClock

    import rankwright.commands.train as command
    import rankwright.training.run as run_module
    from rankwright.cli import main as cli

    class Clock(StepClock):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self.memory = reset_peaks()
            super().on_train_begin(args, state, control, model=model, **kwargs)

        def on_train_end(self, args, state, control, **kwargs):
            self.memory.update(peaks_since_reset(self.memory))

    clock = Clock(skip=min(1, spec["steps"] - 1), budget_s=math.inf, pairs_per_step=spec["batch"])
    command.train = functools.partial(run_module.train, callbacks=[clock])
    rc = cli(["train", "--config", spec["config"]])
    if rc != 0:
        raise RuntimeError(f"rankwright train exited {rc}")
    summary = json.loads((Path(spec["out_dir"]) / "train_summary.json").read_text())
    steady = clock.window("warm") or clock.window("begin")
    model = clock.model
    trainable = model.get_nb_trainable_parameters() if hasattr(model, "get_nb_trainable_parameters") else None
    return {
        "steps": summary["global_steps"],
        "seconds_per_step": steady["seconds"] / steady["steps"],
        "pairs_per_second": steady["pairs_per_second"],
        "steady_steps": steady["steps"],
        "first_step_s": (clock.window("begin", "first") or {}).get("seconds"),
        "pairs_per_second_whole_run": summary["pairs_per_second"],
        "train_runtime_s": summary["train_runtime_s"],
        "train_loss": summary.get("train_loss"),
        "trainable_parameters": list(trainable) if trainable else None,
        "attn_implementation": getattr(getattr(model, "config", None), "_attn_implementation", None),
        "lm_head": "label rows only (2 of the vocabulary)",
        **clock.memory,
    }


def _naive_model(spec: dict[str, Any], train: bool, dtype: str | None = None):
    """AutoModelForCausalLM + peft LoRA as the seeds set it up (QLoRA: 4-bit base,
    prepare_model_for_kbit_training), on the device, in train or eval mode; weights in
    ``dtype`` (default: as rankwright's training loads them)."""
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    from rankwright.models.loading import DTYPES, quantization_config

    device, precision, lora = spec["device"], spec["precision"], spec["lora"]
    kwargs: dict[str, Any] = {"dtype": DTYPES[dtype or weights_dtype(precision, device)]}
    if precision == "4bit":
        kwargs.update(quantization_config=quantization_config("4bit", "bfloat16"), device_map={"": 0})
    model = AutoModelForCausalLM.from_pretrained(spec["model_dir"], **kwargs)
    if precision == "4bit":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=train and spec["checkpointing"])
    else:
        model.to(device)
    if train and spec["checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    config = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=lora["target_modules"],
    )
    model = get_peft_model(model, config)
    return model.train() if train else model.eval()


def _batches(spec: dict[str, Any], count: int):
    """``count`` batches of ``spec['batch']`` pre-tokenised pairs (all of one length) and their targets."""
    tokens = json.loads(Path(spec["tokens"]).read_text())
    b = spec["batch"]
    out = []
    for i in range(count):
        rows = range(i * b, (i + 1) * b)
        ids = torch.tensor([tokens["input_ids"][r] for r in rows], device=spec["device"])
        # 2-way cross-entropy over [yes, no]: class 0 (yes) for a relevant pair
        target = torch.tensor([1 - tokens["labels"][r] for r in rows], device=spec["device"])
        out.append((ids, torch.ones_like(ids), target))
    return out, torch.tensor(tokens["label_ids"], device=spec["device"])


def child_naive_train(spec: dict[str, Any]) -> dict[str, Any]:
    """The plain loop: full logits, CE on the last position's yes/no logits, AdamW."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = _naive_model(spec, train=True)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=0.01)
    batches, label_ids = _batches(spec, spec["steps"])
    autocast = spec["precision"] in ("bf16", "4bit")
    memory = reset_peaks()
    marks, logits_info, losses = [time.perf_counter()], None, []
    for ids, mask, target in batches:
        with torch.autocast(spec["device"], dtype=torch.bfloat16, enabled=autocast):
            logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits  # [B, L, vocab]
            loss = F.cross_entropy(logits[:, -1, label_ids].float(), target)
        logits_info = logits_info or {
            "shape": list(logits.shape),
            "dtype": str(logits.dtype),
            "mib": logits.numel() * logits.element_size() / 2**20,
        }
        del logits
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss))
        cuda_sync()
        marks.append(time.perf_counter())
    memory.update(peaks_since_reset(memory))
    steady = marks[1:] if len(marks) > 2 else marks  # leave the first step out
    seconds = (steady[-1] - steady[0]) / (len(steady) - 1)
    trainable, total = model.get_nb_trainable_parameters()
    return {
        "steps": len(batches),
        "seconds_per_step": seconds,
        "pairs_per_second": spec["batch"] / seconds,
        "steady_steps": len(steady) - 1,
        "first_step_s": marks[1] - marks[0],
        "train_loss": float(np.mean(losses)),
        "trainable_parameters": [int(trainable), int(total)],
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "lm_head": "full vocabulary",
        "logits": logits_info,
        **memory,
    }


def _timed_scoring(spec: dict[str, Any], score) -> dict[str, Any]:
    """``score(first, count)`` on a warm-up batch, then on 4 batches, timed."""
    b = spec["batch"]
    score(0, b)
    memory = reset_peaks()
    start = time.perf_counter()
    values = score(b, 4 * b)
    cuda_sync()
    seconds = time.perf_counter() - start
    if not np.isfinite(values).all():
        raise RuntimeError("non-finite scores")
    memory.update(peaks_since_reset(memory))
    return {"pairs": 4 * b, "seconds": seconds, "pairs_per_second": 4 * b / seconds, **memory}


def child_rankwright_score(spec: dict[str, Any]) -> dict[str, Any]:
    from rankwright.inference.reranker import Reranker

    dtype = "bfloat16" if spec["precision"] == "bf16" else "float32"
    reranker = Reranker.from_pretrained(spec["final_dir"], device=spec["device"], dtype=dtype)
    tokens = json.loads(Path(spec["tokens"]).read_text())

    def score(first: int, count: int) -> np.ndarray:
        queries, docs = tokens["queries"][first : first + count], tokens["docs"][first : first + count]
        return reranker.logits(queries, docs, batch_size=spec["batch"], max_tokens=None, progress=False)

    result = _timed_scoring(spec, score)
    result.update(weights=dtype, includes_tokenising=True, adapter=bool(reranker.metadata.adapter))
    # the leading tokens the last batch's pairs share, run once (rankwright's prefix sharing)
    result["shared_prefix_tokens_last_batch"] = reranker.head.last_shared_prefix
    return result


def child_naive_score(spec: dict[str, Any]) -> dict[str, Any]:
    """Full logits under inference_mode, yes/no read at the last position; a fresh
    (unmerged) LoRA adapter costs what a loaded one does."""
    dtype = "bfloat16" if spec["precision"] == "bf16" else "float32"  # as rankwright's scoring loads them
    model = _naive_model({**spec, "checkpointing": False}, train=False, dtype=dtype)
    batches, label_ids = _batches(spec, 5)

    def score(first: int, count: int) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for ids, mask, _ in batches[first // spec["batch"] : (first + count) // spec["batch"]]:
                # use_cache=False as rankwright's pair forward: the difference is the logits alone
                logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
                logits = logits[:, -1, label_ids].float()
                out.append((logits[:, 0] - logits[:, 1]).cpu().numpy())
        return np.concatenate(out)

    result = _timed_scoring(spec, score)
    return {**result, "weights": dtype, "includes_tokenising": False}


CHILDREN = {
    "rankwright-train": child_rankwright_train,
    "naive-train": child_naive_train,
    "rankwright-score": child_rankwright_score,
    "naive-score": child_naive_score,
}


def child_main(kind: str, spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    result = {"kind": kind, "torch_threads": torch.get_num_threads()}
    try:
        result.update(CHILDREN[kind](spec))
        result["ok"] = True
    except Exception as err:  # recorded for the parent; the traceback goes to the child's log
        import traceback

        traceback.print_exc()
        result.update(ok=False, error=f"{type(err).__name__}: {err}")
    write_json(spec["result"], result, default=str)
    return 0 if result["ok"] else 1


# -- the parent: runs the children, guards memory, writes the results ----------------------


def mem_available_gib() -> float:
    found = re.search(r"^MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    return int(found.group(1)) / 2**20 if found else float("nan")


def _child_rss_mib(pid: int) -> float:
    try:
        found = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    except OSError:
        return 0.0
    return int(found.group(1)) / 1024 if found else 0.0


def run_child(kind: str, spec: dict[str, Any], folder: Path, limit_mib: float, timeout_s: float | None) -> dict:
    """One measurement in a child process, stopped if its RSS passes ``limit_mib`` or it
    runs past ``timeout_s``; its result plus exit status, wall time and whole-process peak
    RSS (wait4's rusage)."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = {**spec, "result": str(folder / f"{kind}.json")}
    Path(spec["result"]).unlink(missing_ok=True)
    spec_path = folder / f"{kind}.spec.json"
    write_json(spec_path, spec)
    log_path = folder / f"{kind}.log"
    start = time.perf_counter()
    stopped, seen_rss = None, 0.0
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--spec", str(spec_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = _child_rss_mib(proc.pid)
            seen_rss = max(seen_rss, rss)
            if stopped is None and rss > limit_mib:
                stopped = f"RSS {rss / 1024:.1f} GiB passed the limit {limit_mib / 1024:.1f} GiB"
                proc.send_signal(signal.SIGKILL)
            elif stopped is None and timeout_s and time.perf_counter() - start > timeout_s:
                stopped = f"ran past {timeout_s:.0f} s"
                proc.send_signal(signal.SIGKILL)
            time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    result_path = Path(spec["result"])
    result = json.loads(result_path.read_text()) if result_path.exists() else {"ok": False}
    result.update(
        returncode=proc.returncode,
        wall_s=time.perf_counter() - start,
        process_peak_rss_mib=usage.ru_maxrss / 1024,
        log=str(log_path),
    )
    if stopped:
        result.update(ok=False, stopped=stopped, rss_when_stopped_mib=seen_rss)
    elif not result.get("ok") and "error" not in result:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        result["error"] = f"exit {proc.returncode}: " + " | ".join(tail)
    return result


def bf16_support(device: str) -> dict[str, Any]:
    """Whether bf16 autocast works here (and the CPU's bf16 hardware, for the reader)."""
    if device == "cuda":
        return {"supported": torch.cuda.is_bf16_supported(), "how": "CUDA bf16"}
    out: dict[str, Any] = {}
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(torch.cpu, name, None)
        if check is not None:
            out[name.strip("_").removeprefix("is_").removesuffix("_supported")] = bool(check())
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = torch.nn.functional.linear(torch.randn(4, 8), torch.randn(8, 8))
        out["supported"] = y.dtype == torch.bfloat16
    except Exception as err:
        out.update(supported=False, error=f"{type(err).__name__}: {err}")
    try:
        from transformers.utils import is_torch_bf16_available_on_device

        out["transformers_bf16_available"] = bool(is_torch_bf16_available_on_device("cpu"))
        out["supported"] = out["supported"] and out["transformers_bf16_available"]
    except ImportError:
        pass
    return out


def qlora_cpu_error(config_path: Path, out_dir: Path) -> dict[str, Any]:
    """What ``rankwright train`` says when asked for QLoRA (lora.quantize 4bit) on CPU."""
    command = [sys.executable, "-m", "rankwright.cli", "train", "--config", str(config_path)]
    command += ["--lora.quantize", "4bit", "--output_dir", str(out_dir)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    lines = (done.stdout + done.stderr).strip().splitlines()
    said = [line for line in lines if QLORA_NOTE in line]
    return {
        "command": "rankwright train --config <the fp32 config> --lora.quantize 4bit",
        "returncode": done.returncode,
        "message": said[-1] if said else (lines[-1] if lines else ""),
        "clear_error": done.returncode != 0 and bool(said),
        "traceback_printed": any(line.startswith("Traceback") for line in lines),
    }


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _memory(r: dict[str, Any], device: str) -> float | None:
    """The memory the table compares: peak GPU memory allocated on CUDA, else peak RSS (MiB)."""
    if not r.get("ok"):
        return None
    if device == "cuda":
        return (r.get("peak_memory_gib") or 0) * 1024 or None
    return r.get("peak_rss_mib")


def _memory_text(r: dict[str, Any], device: str) -> str:
    """Peak GPU MiB on CUDA; on CPU peak RSS MiB (+ its growth over the RSS before the first step)."""
    if r.get("stopped"):
        return f"stopped at {r.get('rss_when_stopped_mib', 0) / 1024:.1f} GiB"
    peak = _memory(r, device)
    if device == "cuda" or peak is None or r.get("peak_rss_growth_mib") is None:
        return _fmt(peak, ".0f")
    return f"{peak:.0f} (+{r['peak_rss_growth_mib']:.0f})"


def _cell(r: dict[str, Any] | None, get: str | Callable[[dict[str, Any]], Any], spec: str = "") -> str:
    """A table cell: ``r[get]`` (or ``get(r)``), or what became of the measurement."""
    if r is None:
        return "-"
    if callable(get):
        value = get(r)
        if isinstance(value, str):
            return value
    elif not r.get("ok"):
        return "stopped" if r.get("stopped") else ("skipped" if r.get("skipped") else "failed")
    else:
        value = r.get(get)
    return _fmt(value, spec)


def compare(rw: dict[str, Any], naive: dict[str, Any], device: str) -> dict[str, Any]:
    ok = bool(rw.get("ok") and naive.get("ok"))
    out = {
        "time_ratio": ratio(rw["seconds_per_step"], naive["seconds_per_step"]) if ok else None,
        "memory_ratio": ratio(_memory(rw, device) or 0, _memory(naive, device) or 0) if ok else None,
        "memory_compared": "peak GPU memory allocated" if device == "cuda" else "peak RSS during the steps",
    }
    if ok and device == "cpu":
        out["growth_ratio"] = ratio(rw["peak_rss_growth_mib"] or 0, naive["peak_rss_growth_mib"] or 0)
    return out


def table(result: dict[str, Any]) -> str:
    device = result["device"]

    def memory(r: dict[str, Any]) -> str:
        return _memory_text(r, device) if r.get("ok") or r.get("stopped") else _cell(r, "")

    def ratios(c: dict[str, Any]) -> str:
        growth = c.get("growth_ratio")
        return _fmt(c.get("memory_ratio")) + (f" ({growth:.2f})" if growth is not None else "")

    unit = "GPU MiB" if device == "cuda" else "RSS MiB (+growth)"
    lines = [
        f"Training, {result['steps']} steps, first left out; peak {unit} during the steps (rankwright / naive)",
        "",
        f"| point | variant | rw s/step | naive s/step | time rw/naive | rw pairs/s | naive pairs/s "
        f"| rw peak {unit} | naive peak {unit} | peak rw/naive{'' if device == 'cuda' else ' (growth)'} |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for point, p in result["points"].items():
        for variant, v in p["variants"].items():
            rw, naive = v.get("rankwright"), v.get("naive")
            if v.get("not_run"):
                lines.append("| " + " | ".join([point, variant, v["not_run"]] + [""] * 7) + " |")
                continue
            c = v.get("compare") or {}
            lines.append(
                f"| {point} | {variant} | {_cell(rw, 'seconds_per_step', '.2f')} "
                f"| {_cell(naive, 'seconds_per_step', '.2f')} | {_fmt(c.get('time_ratio'))} "
                f"| {_cell(rw, 'pairs_per_second', '.2f')} | {_cell(naive, 'pairs_per_second', '.2f')} "
                f"| {_cell(rw, memory)} | {_cell(naive, memory)} | {ratios(c)} |"
            )
    lines += [
        "",
        f"Scoring 4 x batch pairs after a warm-up batch; peak {unit} while scoring (rankwright / naive)",
        "",
        f"| point | weights | rw s | naive s | time rw/naive | rw pairs/s | naive pairs/s | rw peak {unit} "
        f"| naive peak {unit} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for point, p in result["points"].items():
        for precision, s in p.get("scoring", {}).items():
            rw, naive = s.get("rankwright"), s.get("naive")
            t = ratio(rw["seconds"], naive["seconds"]) if rw.get("ok") and naive.get("ok") else None
            lines.append(
                f"| {point} | {precision} | {_cell(rw, 'seconds', '.2f')} | {_cell(naive, 'seconds', '.2f')} "
                f"| {_fmt(t)} | {_cell(rw, 'pairs_per_second', '.2f')} | {_cell(naive, 'pairs_per_second', '.2f')} "
                f"| {_cell(rw, memory)} | {_cell(naive, memory)} |"
            )
    q = result.get("qlora_on_cpu")
    if q:
        lines += ["", f"4bit on CPU: exit {q['returncode']}: {q['message']}"]
    return "\n".join(lines)


@dataclass
class Session:
    """What the measurements share: where they run, the limits, and the result so far
    (written out after every measurement, so a run cut short keeps what it measured)."""

    work: Path
    device: str
    path: Path
    limit_mib: float
    child_timeout_s: float | None
    budget_s: float | None
    result: dict[str, Any]
    started: float = field(default_factory=time.perf_counter)

    def dump(self) -> None:
        self.result["elapsed_s"] = time.perf_counter() - self.started
        write_json(self.path, self.result, default=str)

    def measure(self, kind: str, spec: dict[str, Any], folder: Path, what: str) -> dict[str, Any]:
        if self.budget_s and time.perf_counter() - self.started > self.budget_s:
            return {"ok": False, "skipped": f"past --budget-s {self.budget_s:.0f}"}
        print(f"{what} ...", flush=True)
        out = run_child(kind, spec, folder, self.limit_mib, self.child_timeout_s)
        _say(out)
        return out


def run_point(session: Session, base: dict[str, Any], data: dict[str, Any], variants: list[dict], scoring: bool):
    """Every variant at one batch x length: both systems' training, then (once per
    precision, on the first variant's trained folder) both systems' scoring. Entries of
    an earlier run (``--merge``) are kept unless measured again."""
    result, device, key = session.result, session.device, f"{base['batch']}x{base['length']}"
    point = result["points"].setdefault(key, {})
    point.update(batch=base["batch"], length=base["length"], data=data)
    point.setdefault("variants", {})
    point.setdefault("scoring", {})
    scored: set[str] = set()
    for variant in variants:
        name, precision = variant["name"], variant["precision"]
        entry: dict[str, Any] = {**variant, "precision": precision_note(precision, device)}
        point["variants"][name] = entry
        if precision == "4bit" and device == "cpu":
            entry.update(not_run="CUDA only", error=result["qlora_on_cpu"]["message"])
            continue
        if precision == "bf16" and not result["bf16"].get("supported"):
            entry.update(not_run="bf16 not supported here", error=result["bf16"].get("error", "no bf16 autocast"))
            continue
        folder = session.work / "runs" / key / name
        spec = {**base, **variant, "out_dir": str(folder / "rankwright"), "config": str(folder / "train.yaml")}
        _write_yaml(Path(spec["config"]), rankwright_config(spec))
        entry["rankwright_command"] = f"rankwright train --config {spec['config']}"
        for system in ("rankwright", "naive"):
            entry[system] = session.measure(f"{system}-train", spec, folder, f"{key} {name}: {system} training")
            session.dump()
        entry["compare"] = compare(entry["rankwright"], entry["naive"], device)
        if not scoring or precision == "4bit" or precision in scored or not entry["rankwright"].get("ok"):
            continue
        scored.add(precision)
        scores: dict[str, Any] = {"trained_by": name}
        point["scoring"][precision] = scores
        spec["final_dir"] = str(folder / "rankwright" / "final")
        for system in ("rankwright", "naive"):
            what = f"{key} {precision}: {system} scoring {4 * base['batch']} pairs"
            scores[system] = session.measure(f"{system}-score", spec, folder, what)
            session.dump()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help=f"2 layers, hidden 64, real vocabulary; {TINY_POINTS}")
    parser.add_argument("--points", help=f"BATCHxLENGTH,... (default {DEFAULT_POINTS}; --tiny {TINY_POINTS})")
    parser.add_argument(
        "--variants",
        help=f"of fp32, bf16, 4bit, each optionally -ckpt (default {DEFAULT_VARIANTS}; --tiny {TINY_VARIANTS})",
    )
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps per run, the first left out (default 3)")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    parser.add_argument("--no-scoring", action="store_true", help="training only")
    parser.add_argument("--work", help="model, data and runs (default /tmp/rw-qwen3-lora[-tiny])")
    parser.add_argument("--out", help="folder for the JSON (default: bench/results)")
    parser.add_argument("--rss-limit-gib", type=float, help="stop a child past this RSS (default 90%% of available)")
    parser.add_argument("--child-timeout-s", type=float, help="stop a child past this many seconds")
    parser.add_argument("--budget-s", type=float, help="start no measurement after this many seconds")
    parser.add_argument(
        "--merge", action="store_true", help="keep the points and variants of the JSON already there, update them"
    )
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child, args.spec)

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    points = [parse_point(p) for p in (args.points or (TINY_POINTS if args.tiny else DEFAULT_POINTS)).split(",")]
    variants = (args.variants or (TINY_VARIANTS if args.tiny else DEFAULT_VARIANTS)).split(",")
    variants = [parse_variant(v) for v in variants]
    steps = max(args.steps, 1)
    work = Path(args.work or f"/tmp/rw-qwen3-lora{'-tiny' if args.tiny else ''}")
    name = f"qwen3_lora_{device}{'_tiny' if args.tiny else ''}.json"
    available = mem_available_gib()
    limit_mib = (args.rss_limit_gib or 0.9 * available) * 1024
    lora = lora_settings()
    result: dict[str, Any] = {
        "benchmark": "qwen3_lora_cpu",
        "mode": "tiny (2 layers, hidden 64, real vocabulary)" if args.tiny else "qwen3-0.6b (published config)",
        "device": device,
        "device_name": torch.cuda.get_device_name() if device == "cuda" else None,
        "machine": machine(),
        "memory_available_gib_at_start": available,
        "rss_limit_gib": limit_mib / 1024,
        "steps": steps,
        "step_time": "mean over steps 2..N (the first step left out)",
        "lora": lora,
        "prompt": prompt_config(),
        "bf16": bf16_support(device),
        "precisions": {p: precision_note(p, device) for p in PRECISIONS},
        "points": {},
    }
    path = Path(args.out or REPO / "bench" / "results") / name
    if args.merge and path.exists():
        earlier = json.loads(path.read_text())
        if (earlier.get("mode"), earlier.get("device")) != (result["mode"], device):
            raise SystemExit(f"--merge: {path} holds a {earlier.get('mode')} run on {earlier.get('device')}")
        result["points"] = earlier.get("points", {})
        result["merged_from_earlier_runs"] = earlier.get("merged_from_earlier_runs", 0) + 1
    session = Session(work, device, path, limit_mib, args.child_timeout_s, args.budget_s, result)

    model_dir = work / ("model-tiny" if args.tiny else "model")
    print(f"model folder {model_dir} ...", flush=True)
    result["model"] = {**build_model_folder(model_dir, args.tiny), "folder": str(model_dir)}
    session.dump()
    for batch, length in points:
        data = write_data(work / "data", model_dir, batch, length, max(steps + 1, 6) * batch)
        base = {"model_dir": str(model_dir), "data": data["data"], "tokens": data["tokens"], "lora": lora}
        base.update(batch=batch, length=length, steps=steps, device=device)
        if device == "cpu" and "qlora_on_cpu" not in result:
            spec = {**base, "precision": "fp32", "checkpointing": False, "out_dir": str(work / "runs" / "qlora-cpu")}
            config = work / "runs" / "qlora-cpu.yaml"
            _write_yaml(config, rankwright_config(spec))
            print("4bit on CPU: rankwright train --lora.quantize 4bit ...", flush=True)
            result["qlora_on_cpu"] = qlora_cpu_error(config, Path(spec["out_dir"]))
        run_point(session, base, data, variants, not args.no_scoring)
    session.dump()
    print("\n" + table(result) + f"\n\nwritten: {path}", flush=True)
    return 0


def _say(r: dict[str, Any]) -> None:
    if r.get("ok"):
        print(
            f"  ok in {r['wall_s']:.0f} s: "
            + (f"{r['seconds_per_step']:.2f} s/step, " if "seconds_per_step" in r else f"{r['seconds']:.2f} s, ")
            + f"peak RSS {_fmt(r.get('peak_rss_mib'), '.0f')} MiB",
            flush=True,
        )
    else:
        print(f"  not ok: {r.get('stopped') or r.get('skipped') or r.get('error')}", flush=True)


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
