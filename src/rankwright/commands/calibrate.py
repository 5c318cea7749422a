"""``rankwright calibrate``: fit a map from a trained model's raw score to P(relevant)
on one query split (validation by default), store it in the model folder's
``rankwright.json``, and report the expected calibration error before and after on
another split (test by default).

The step itself, :func:`rankwright.inference.calibrate.calibrate_model`, is shared with
``train`` (``training.calibration``), which calibrates final/ and best/ after training.
"""

from __future__ import annotations

import logging
from typing import Any

from rankwright.commands.configs import CalibrateConfig
from rankwright.data.config import SPLIT_NAMES
from rankwright.data.loading import load_data
from rankwright.data.split import split_data
from rankwright.inference.calibrate import calibrate_model
from rankwright.models.metadata import ModelMetadata

log = logging.getLogger(__name__)


def main(config: CalibrateConfig) -> dict[str, Any]:
    if config.report_subset and config.report_subset not in SPLIT_NAMES:  # before any data or model is read
        raise ValueError(
            f"report_subset must be one of {', '.join(SPLIT_NAMES)} or none (no report), got {config.report_subset!r}"
        )
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
