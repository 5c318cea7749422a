"""``rankwright calibrate``: fit a map from a trained model's raw score to P(relevant)
on one query split (validation by default), store it in the model folder's
``rankwright.json``, and report the expected calibration error before and after on
another split (test by default)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from rankwright.commands.common import DataSelection, load_data
from rankwright.data.records import DOC, LABEL, QUERY
from rankwright.data.split import split_data
from rankwright.evaluation.calibration import apply_calibration, expected_calibration_error, fit_calibration
from rankwright.inference.reranker import Reranker
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
    reranker = Reranker.from_pretrained(config.model)

    def raw_and_relevant(data):
        logits = reranker.logits(
            data.pairs[QUERY].tolist(), data.pairs[DOC].tolist(), batch_size=config.batch_size, progress=config.progress
        )
        return reranker.raw_scalar(logits), loaded.scheme.relevant(data.pairs[LABEL])

    raw, relevant = raw_and_relevant(loaded.subset)
    calibration = fit_calibration(raw, relevant, config.method)
    result: dict[str, Any] = {"method": config.method, "fitted_on": config.subset, "pairs": len(raw)}
    if config.report_subset:
        report = split_data(loaded.full, config.split)[config.report_subset]
        raw_r, rel_r = raw_and_relevant(report)
        # Uncalibrated probabilities: the sigmoid of the logit, or a class model's expected gain.
        one_output = reranker.metadata.num_labels == 1
        before = reranker.scores_from_logits(raw_r, probabilities=True) if one_output else raw_r
        result["report"] = {
            "subset": config.report_subset,
            "pairs": len(raw_r),
            "ece_before": expected_calibration_error(before, rel_r),
            "ece_after": expected_calibration_error(apply_calibration(calibration, raw_r), rel_r),
        }
        report_ece = result["report"]
        log.info(
            "ECE on %s: %.4f before, %.4f after",
            config.report_subset,
            report_ece["ece_before"],
            report_ece["ece_after"],
        )
    metadata = ModelMetadata.load(config.model)
    metadata.calibration = {**calibration, "fitted_on": f"{config.data.path} ({config.subset}, {len(raw)} pairs)"}
    metadata.save(config.model)
    log.info("wrote the %s calibration into %s/rankwright.json", config.method, config.model)
    return result
