"""``rankwright train``: fine-tune a reranker from a YAML config and flag overrides.

Under a multi-process launch (``torchrun``, ``accelerate launch``) every process runs
this; only rank 0 (``RANK`` 0) logs at info level, the others warnings and errors."""

from __future__ import annotations

import logging
import os

from rankwright.training.config import TrainConfig
from rankwright.training.run import TrainResult, train


def quiet_replicas() -> None:
    """Log rankwright's progress once: warnings only on ranks other than 0."""
    if int(os.environ.get("RANK", "0")) > 0:
        logging.getLogger("rankwright").setLevel(logging.WARNING)


def main(config: TrainConfig) -> TrainResult:
    quiet_replicas()
    return train(config)
