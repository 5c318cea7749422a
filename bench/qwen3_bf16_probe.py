"""Why is rankwright's LoRA step slower than the naive loop's under CPU bf16 autocast?

`bench/qwen3_lora_cpu.py` measured rankwright's `train` step at 1.06x the naive loop's
(bf16 autocast, 4 x 256, Qwen3-0.6B shape) although rankwright computes 2 rows of the
LM head at one position and the naive loop all 151,936 at every position. This probe
takes the Trainer out: one plain loop (LoRA r 16 on q/k/v/o, AdamW, bf16 autocast,
fp32 weights), the same random batches, and changes one thing at a time between what
the naive loop does and what rankwright's generative head does:

- ``naive``: ``model(input_ids, attention_mask)``, full logits, CE at the last position;
- ``+position_ids``: the same with the ``position_ids`` rankwright's collator adds;
- ``label_rows``: rankwright's head (only the label rows of the LM head, computed at the
  last position: ``logits_to_keep=1``), without ``position_ids``;
- ``rankwright``: the label rows with ``position_ids``, as ``rankwright train`` runs it.

Seconds a step are the median of steps 2..N; peak RSS growth over the loaded model is
each variant's own child process. The variants run one after another, alone.

    python bench/qwen3_bf16_probe.py --steps 4 --batch 4 --length 256
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, write_json

VARIANTS = {
    "naive": {"position_ids": False, "label_rows": False},
    "+position_ids": {"position_ids": True, "label_rows": False},
    "label_rows": {"position_ids": False, "label_rows": True},
    "rankwright": {"position_ids": True, "label_rows": True},
}
LABEL_IDS = [9693, 2152]  # Qwen3's "yes" and "no"


def child(name: str, args: argparse.Namespace) -> dict:
    import torch.nn.functional as F
    from peft import LoraConfig, TaskType, get_peft_model
    from qwen3_lora_cpu import model_config
    from transformers import AutoModelForCausalLM

    from rankwright.models.generative import restrict_to_label_rows

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    variant = VARIANTS[name]
    model = AutoModelForCausalLM.from_config(model_config(tiny=False), dtype=torch.float32)
    lora = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=16,
        lora_alpha=32,
        lora_dropout=0.05,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
    )
    model = get_peft_model(model, lora).train()
    if variant["label_rows"]:
        restrict_to_label_rows(model, LABEL_IDS)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    rng = np.random.default_rng(0)
    loaded_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    marks = [time.perf_counter()]
    for _ in range(args.steps):
        ids = torch.from_numpy(rng.integers(100, 150_000, size=(args.batch, args.length)))
        mask = torch.ones_like(ids)
        target = torch.from_numpy(rng.integers(0, 2, size=args.batch))
        kwargs = {"input_ids": ids, "attention_mask": mask, "use_cache": False}
        if variant["position_ids"]:
            kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            if variant["label_rows"]:
                last = model(**kwargs, logits_to_keep=1).logits[:, -1, :]
            else:
                last = model(**kwargs).logits[:, -1, LABEL_IDS]
            loss = F.cross_entropy(last.float(), target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        marks.append(time.perf_counter())
    steps = np.diff(marks)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds_per_step": float(np.median(steps[1:])),
        "steps_s": [round(float(s), 2) for s in steps],
        "peak_rss_mib": round(peak),
        "growth_after_load_mib": round(peak - loaded_rss),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "qwen3_bf16_probe.json"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return
    results = {"machine": machine(), "batch": args.batch, "length": args.length, "steps": args.steps, "variants": {}}
    for name in args.variants.split(","):
        argv = [sys.executable, __file__, "--child", name, "--steps", str(args.steps), "--batch", str(args.batch)]
        argv += ["--length", str(args.length), "--threads", str(args.threads)]
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
        results["variants"][name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(name, results["variants"][name], flush=True)
        write_json(args.out, results)


if __name__ == "__main__":
    main()
