"""The systems of ``train_homedepot.py``: the shared settings, training with rankwright
(``train``) or sentence-transformers' ``CrossEncoderTrainer`` on the same pairs, and
scoring the test pairs with either's model."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from common import SHARED_DATA

from rankwright.data.labels import LabelConfig
from rankwright.data.readers import ColumnMap

HD = SHARED_DATA / "homedepot" / "train.csv.zip"
CRANFIELD = SHARED_DATA / "cranfield"
COLUMNS = ColumnMap(query="search_term", docs=["product_title"], label="relevance", doc_id="product_uid")
LABELS = LabelConfig(scheme="graded", gain_offset=1, gain_scale=12, threshold=2.33, target_range=[1, 3])
HYPER = {
    "batch_size": 32,
    "learning_rate": 5e-5,
    "warmup_ratio": 0.1,
    "weight_decay": 0.01,
    "epochs": 1,
    "seed": 42,
}


@dataclass(frozen=True)
class Bench:
    """One benchmark's data: its labels (BCE on ``label >= threshold``), pairs, length."""

    name: str
    labels: LabelConfig
    threshold: float
    max_length: int
    n_pairs: int


BENCHES = {
    # short pairs: a search term and a product title
    "homedepot": Bench("homedepot", LABELS, 2.33, 128, 10_000),
    # Cranfield-length pairs: a question and a title + abstract; labels are gains 0..4
    # (judged grade 1..4 -> 4..1, BM25-retrieved unjudged documents 0)
    "cranfield": Bench("cranfield", LabelConfig(scheme="graded", threshold=2.0, target_range=[0, 4]), 2.0, 256, 1_000),
}


def run_rankwright(workdir: Path, system: str, seed: int, bench: Bench) -> dict:
    """``system``: the loss, then ``_grouped`` for length-grouped batches or ``_chunks``
    for padded length-sorted chunks instead of packed batches (the default)."""
    loss, grouped, chunks = system.split("_")[0], system.endswith("_grouped"), system.endswith("_chunks")
    from rankwright.config import from_dict
    from rankwright.training.config import TrainConfig
    from rankwright.training.run import train

    cfg = from_dict(
        TrainConfig,
        {
            "data": {"path": str(workdir / "train_pairs.parquet")},
            "labels": dict(bench.labels.__dict__),
            "split": {"ratios": [1.0, 0.0, 0.0], "seed": 42},
            "model": {"name": "all-MiniLM-L6-v2", "max_length": bench.max_length},
            "loss": {"name": loss},
            "sampling": {"mode": "pairs", "length_grouping": grouped, "packing": not chunks},
            "training": {
                "epochs": HYPER["epochs"],
                "batch_size": HYPER["batch_size"],
                "learning_rate": HYPER["learning_rate"],
                "warmup_ratio": HYPER["warmup_ratio"],
                "weight_decay": HYPER["weight_decay"],
                "seed": seed,
                "eval_strategy": "no",
                "save_steps": 10**9,
                "logging_steps": 50,
            },
            "output_dir": str(workdir / f"rankwright_{system}_{seed}"),
            "progress": False,
        },
    )
    result = train(cfg)
    return {
        "model_dir": result.final_dir,
        "train_seconds": result.metrics["train_runtime_s"],
        "pairs": result.metrics["pairs_seen"],
    }


def run_sentence_transformers(workdir: Path, seed: int, bench: Bench) -> dict:
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    from rankwright.models.loading import resolve_model_path

    pairs = pd.read_parquet(workdir / "train_pairs.parquet")
    labels = (pairs["label"].astype(float) >= bench.threshold).astype(float)
    dataset = Dataset.from_dict(
        {"query": pairs["query"].tolist(), "doc": pairs["doc"].tolist(), "label": labels.tolist()}
    )
    torch.manual_seed(seed)
    model = CrossEncoder(resolve_model_path("all-MiniLM-L6-v2"), num_labels=1, max_length=bench.max_length)
    args = CrossEncoderTrainingArguments(
        output_dir=str(workdir / "st_checkpoints"),
        num_train_epochs=HYPER["epochs"],
        per_device_train_batch_size=HYPER["batch_size"],
        learning_rate=HYPER["learning_rate"],
        warmup_steps=HYPER["warmup_ratio"],
        weight_decay=HYPER["weight_decay"],
        seed=seed,
        eval_strategy="no",
        save_strategy="no",
        logging_steps=50,
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
    )
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=BinaryCrossEntropyLoss(model))
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    out = workdir / f"st_model_{seed}"
    model.save_pretrained(str(out))
    return {"model_dir": str(out), "train_seconds": seconds, "pairs": len(pairs) * HYPER["epochs"]}


def score_rankwright(model_dir: str, test) -> np.ndarray:
    from rankwright.inference.reranker import Reranker

    return Reranker.from_pretrained(model_dir).score(
        test.pairs["query"].tolist(), test.pairs["doc"].tolist(), batch_size=128
    )


def score_st(model_dir: str, test, max_length: int) -> np.ndarray:
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder

    model = CrossEncoder(model_dir, activation_fn=torch.nn.Identity(), max_length=max_length)
    return np.asarray(model.predict(list(zip(test.pairs["query"], test.pairs["doc"], strict=True)), batch_size=128))
