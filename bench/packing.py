"""Packed against padded batches, one MiniLM forward (+ backward for training) at a time:
what packing saves and what is left.

``--bench homedepot`` (short pairs, max_length 128) or ``cranfield`` (title + abstract,
max_length 256; the pairs of ``train_homedepot.py --bench cranfield``). Training steps
(model in train mode, forward + backward, no optimizer), batches of 32 random pairs:
padded to their longest pair, in 4 padded length-sorted chunks (``packing: false``),
packed with one attention group, packed with 4 (``packing: true``, the default); and 32
pairs of near-equal length padded (what padding costs at best). Scoring
(``torch.inference_mode``): pairs sorted by length (as ``Reranker`` scores them), in
batches of 64 and 256, padded or packed, and the largest score difference.
``--profile`` adds ``torch.profiler``'s top operators over the packed training batches.

    python bench/packing.py --bench homedepot   # writes bench/results/packing_homedepot.json
    python bench/packing.py --bench cranfield   # bench/results/packing_cranfield.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, write_json
from homedepot_systems import BENCHES
from train_homedepot import splits

from rankwright.models.cross_encoder import CrossEncoderHead
from rankwright.models.loading import resolve_model_path
from rankwright.models.packing import enable_packing, pack


def batch_scores(model, head, features: list, mode: str) -> torch.Tensor:
    """One batch's scores, in its order: ``padded`` (to its longest pair), ``chunksN``
    (sorted, N padded chunks, as ``packing: false`` trains), ``packed`` or ``packedN``
    (sorted, packed, its attention in N groups, as ``packing: true`` trains)."""
    if mode == "padded":
        return head.scores(model, head.pad(features))
    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    ordered = [features[i] for i in order]
    if mode.startswith("packed"):
        scores = head.scores(model, pack(ordered, int(mode[6:] or 1)))
    else:
        size = -(-len(ordered) // int(mode[6:]))
        scores = torch.cat([head.scores(model, head.pad(ordered[i : i + size])) for i in range(0, len(ordered), size)])
    out = torch.empty_like(scores)
    out[torch.tensor(order)] = scores
    return out


def step_ms(model, head, batches, mode: str, backward: bool) -> float:
    """Mean milliseconds per batch, after one untimed warm-up batch."""
    times = []
    for k, batch_features in enumerate([batches[0], *batches]):
        start = time.perf_counter()
        scores = batch_scores(model, head, batch_features, mode)
        if backward:
            scores.sum().backward()
        if k:
            times.append(time.perf_counter() - start)
    return round(1000 * float(np.mean(times)), 1)


TRAINING_MODES = ("padded", "chunks4", "packed", "packed4", "packed8")


def training(model, head, features: list, repeats: int) -> dict:
    """Forward + backward per batch of 32 random pairs in each mode, and of 32 pairs of
    near-equal length padded (what padding costs at best)."""
    random = [features[i : i + 32] for i in range(0, len(features), 32)]
    by_length = sorted(features, key=lambda f: len(f["input_ids"]))
    equal = [by_length[i : i + 32] for i in range(0, len(by_length), 32)]
    rows: dict[str, list[float]] = {f"random_{m}": [] for m in TRAINING_MODES} | {"equal_length_padded": []}
    model.train()
    for _ in range(repeats):
        for mode in TRAINING_MODES:
            rows[f"random_{mode}"].append(step_ms(model, head, random, mode, backward=True))
        rows["equal_length_padded"].append(step_ms(model, head, equal, "padded", backward=True))
    return {"ms_per_batch_of_32": rows, "mean_tokens_per_pair": float(np.mean([len(f["input_ids"]) for f in features]))}


def scoring(model, head, features: list, repeats: int) -> dict:
    lengths = np.array([len(f["input_ids"]) for f in features])
    ordered = [features[i] for i in np.argsort(-lengths, kind="stable")]
    model.eval()
    out: dict = {}
    for size in (64, 256):
        batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        row: dict = {"padded_s": [], "packed_s": []}
        for _ in range(repeats):
            for kind in ("padded", "packed"):
                with torch.inference_mode():
                    start = time.perf_counter()
                    scores = [batch_scores(model, head, b, kind) for b in batches]
                    row[f"{kind}_s"].append(round(time.perf_counter() - start, 2))
                    row.setdefault(kind, torch.cat(scores))
        row["max_abs_difference"] = float((row.pop("padded") - row.pop("packed")).abs().max())
        out[f"batch_{size}"] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--bench", choices=["homedepot", "cranfield"], default="homedepot")
    args = parser.parse_args()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    bench = BENCHES[args.bench]
    path = resolve_model_path("all-MiniLM-L6-v2")
    head = CrossEncoderHead(AutoTokenizer.from_pretrained(path), bench.max_length)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    enable_packing(model)  # padded batches still run SDPA attention
    pairs = splits(bench)[0].pairs
    train_pairs = pairs.sample(32 * (12 if bench.name == "homedepot" else 6), random_state=0)
    score_pairs = pairs.sample(2000 if bench.name == "homedepot" else 500, random_state=1)
    results = {
        "machine": machine(),
        "training": training(model, head, head.encode(train_pairs["query"], train_pairs["doc"]), args.repeats),
        "scoring": scoring(model, head, head.encode(score_pairs["query"], score_pairs["doc"]), args.repeats),
    }
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        features = head.encode(train_pairs["query"], train_pairs["doc"])
        model.train()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step_ms(model, head, [features[i : i + 32] for i in range(0, len(features), 32)], "packed4", True)
        table = prof.key_averages()
        total = sum(e.self_cpu_time_total for e in table)
        top = sorted(table, key=lambda e: -e.self_cpu_time_total)[:12]
        results["profile_packed_training_self_cpu_share"] = {
            e.key: round(e.self_cpu_time_total / total, 3) for e in top
        }
    results = {"bench": bench.name, "max_length": bench.max_length, **results}
    write_json(REPO / "bench" / "results" / f"packing_{bench.name}.json", results)
    print({k: v for k, v in results.items() if k != "machine"})


if __name__ == "__main__":
    main()
