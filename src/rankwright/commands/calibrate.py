"""``rankwright calibrate``: fit a map from a trained model's raw score to P(relevant)
on one query split (validation by default), store it in the model folder's
``rankwright.json``, and report the expected calibration error before and after on
another split (test by default).

The step itself, :func:`rankwright.inference.calibrate.calibrate_model`, is shared with
``train`` (``training.calibration``), which calibrates final/ and best/ after training.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from rankwright.commands.common import DataSelection, load_data
from rankwright.data.split import split_data
from rankwright.inference.calibrate import calibrate_model
from rankwright.models.metadata import ModelMetadata

log = logging.getLogger(__name__)


@dataclass
class CalibrateConfig(DataSelection):
    model: str = field(default="", metadata={"help": "trained model folder; its rankwright.json gets the calibration"})
    method: str = field(default="platt", metadata={"help": "platt|temperature|isotonic"})
    report_subset: str | None = field(
        default="test", metadata={"help": "query split on which ECE before/after is reported (none: skip)"}
    )
    batch_size: int = field(default=64, metadata={"help": "pairs per batch"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})

    def __post_init__(self) -> None:
        if self.subset == "all":
            self.subset = "val"  # fit on held-out queries, not on what the model trained on


def main(config: CalibrateConfig) -> dict[str, Any]:
    if not config.model:
        raise ValueError("calibrate needs model=<folder>")
    if not ModelMetadata.exists(config.model):
        raise ValueError(f"{config.model} has no rankwright.json: calibrate a model folder that rankwright wrote")
    loaded = load_data(config)
    report = split_data(loaded.full, config.split)[config.report_subset] if config.report_subset else None
    return calibrate_model(
        config.model,
        loaded.subset,
        report,
        loaded.scheme,
        config.method,
        batch_size=config.batch_size,
        progress=config.progress,
        fit_name=config.subset,
        report_name=config.report_subset or "",
        source=config.data.path,
    )
