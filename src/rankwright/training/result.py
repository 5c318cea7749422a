"""What a training run returns and what a model folder records of it (shared by the
cross-encoder/generative trainer and the bi-encoder trainer)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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


def training_record(config: TrainConfig, train_data: RelevanceData, **extra: Any) -> dict[str, Any]:
    """What a model folder's ``rankwright.json`` records of its training."""
    return {
        "rankwright_version": rankwright.__version__,
        "loss": {"name": config.loss.name, **config.loss.params},
        "data": config.data.path,
        "train_queries": train_data.n_queries,
        "train_pairs": len(train_data.pairs),
        **extra,
        "config": asdict(config),
    }


def finish_folder(folder: Path, metadata: ModelMetadata, extra: dict[str, Any] | None = None) -> None:
    """What every saved model folder gets besides its weights: ``rankwright.json`` (with
    ``extra`` merged into its training record), sentence-transformers' cross-encoder
    config where it applies, and the model card."""
    if extra:
        metadata.training = {**metadata.training, **extra}
    metadata.save(folder)
    write_cross_encoder_config(folder, metadata)
    write_model_card(folder, metadata)
