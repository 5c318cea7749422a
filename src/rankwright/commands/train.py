"""``rankwright train``: fine-tune a reranker from a YAML config and flag overrides."""

from __future__ import annotations

from rankwright.training.config import TrainConfig
from rankwright.training.run import TrainResult, train


def main(config: TrainConfig) -> TrainResult:
    return train(config)
