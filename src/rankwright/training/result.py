"""What a training run returns and what a model folder records of it (shared by the
cross-encoder/generative trainer and the bi-encoder trainer)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import rankwright
from rankwright.data.records import RelevanceData
from rankwright.models.card import write_model_card
from rankwright.models.metadata import ModelMetadata
from rankwright.models.st_config import write_cross_encoder_config
from rankwright.training.config import TrainConfig


@dataclass
class TrainResult:
    output_dir: str
    best_dir: str | None
    final_dir: str
    metrics: dict[str, Any]

    @property
    def model_dir(self) -> str:
        """The best checkpoint by validation, else the final model."""
        return self.best_dir or self.final_dir


def training_record(
    config: TrainConfig,
    train_data: RelevanceData,
    *,
    used: tuple[int, int] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What a model folder's ``rankwright.json`` records of its training. ``used`` is
    (queries, judged pairs) actually trained on, when fewer than the training split's
    (``sampling.max_pairs``, queries without a usable group or a positive skipped)."""
    queries, pairs = used or (train_data.n_queries, len(train_data.pairs))
    return {
        "rankwright_version": rankwright.__version__,
        "loss": {"name": config.loss.name, **config.loss.params},
        "data": config.data.path,
        "train_queries": queries,
        "train_pairs": pairs,
        "train_split_queries": train_data.n_queries,
        "train_split_pairs": len(train_data.pairs),
        **extra,
        "config": asdict(config),
    }


def best_record(step: int, metric: dict[str, float], metrics: dict[str, float] | None = None) -> dict[str, Any]:
    """What ``best/`` adds to its training record: the step and value that chose it, and
    every validation metric of that evaluation (its model card's validation table)."""
    return {"best": {"step": step, **metric}, "validation": dict(metrics or metric)}


def finish_folder(folder: Path, metadata: ModelMetadata, extra: dict[str, Any] | None = None) -> None:
    """What every saved model folder gets besides its weights: ``rankwright.json`` (with
    ``extra`` merged into its training record; ``metadata`` itself is left as it is, so
    best/'s record does not leak into final/'s), sentence-transformers' cross-encoder
    config where it applies, and the model card."""
    if extra:
        metadata = replace(metadata, training={**metadata.training, **extra})
    metadata.save(folder)
    write_cross_encoder_config(folder, metadata)
    write_model_card(folder, metadata)
