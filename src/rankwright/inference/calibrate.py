"""Calibrating a model folder: fit a map from its raw score to P(relevant) on held-out
pairs, store it in its ``rankwright.json``, and measure the expected calibration error
before and after. Used by ``rankwright calibrate`` and by ``train`` (``training.calibration``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from rankwright.data.labels import LabelScheme
from rankwright.data.records import DOC, LABEL, QUERY, RelevanceData
from rankwright.evaluation.calibration import apply_calibration, expected_calibration_error, fit_calibration
from rankwright.inference.reranker import Reranker
from rankwright.models.card import write_model_card
from rankwright.models.metadata import ModelMetadata

log = logging.getLogger(__name__)


def _raw_and_relevant(
    reranker: Reranker, data: RelevanceData, scheme: LabelScheme, batch_size: int, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    logits = reranker.logits(
        data.pairs[QUERY].tolist(), data.pairs[DOC].tolist(), batch_size=batch_size, progress=progress
    )
    return reranker.raw_scalar(logits), np.asarray(scheme.relevant(data.pairs[LABEL]), dtype=bool)


def calibrate_model(
    model_dir: str | Path,
    fit_data: RelevanceData,
    report_data: RelevanceData | None,
    scheme: LabelScheme,
    method: str = "platt",
    *,
    batch_size: int = 64,
    progress: bool = False,
    fit_name: str = "val",
    report_name: str = "test",
    source: str | None = None,
    reranker: Reranker | None = None,
) -> dict[str, Any]:
    """Fit ``method`` on the model's raw scores of ``fit_data`` and write it into
    ``model_dir/rankwright.json`` (``calibration``); with ``report_data`` (pairs), also
    the expected calibration error there before (the model's own probability: the
    sigmoid of the logit, or a class model's expected gain) and after.

    ``reranker`` scores instead of loading ``model_dir`` (e.g. the model still in
    memory after training; it must hold the same weights). ``source`` names the data
    in the stored ``fitted_on`` text. Returns ``{"method", "fitted_on", "pairs",
    "calibration", "report": {"subset", "pairs", "ece_before", "ece_after"}}`` (no
    ``report`` without report pairs)."""
    if not ModelMetadata.exists(model_dir):
        raise ValueError(f"{model_dir} has no rankwright.json: calibrate a model folder that rankwright wrote")
    reranker = reranker or Reranker.from_pretrained(model_dir)
    raw, relevant = _raw_and_relevant(reranker, fit_data, scheme, batch_size, progress)
    calibration = fit_calibration(raw, relevant, method)
    result: dict[str, Any] = {"method": method, "fitted_on": fit_name, "pairs": len(raw), "calibration": calibration}
    if report_data is not None and len(report_data.pairs):
        raw_r, rel_r = _raw_and_relevant(reranker, report_data, scheme, batch_size, progress)
        # Uncalibrated probabilities: the sigmoid of the logit, or a class model's expected gain.
        one_output = reranker.metadata.num_labels == 1
        before = reranker.scores_from_logits(raw_r, probabilities=True) if one_output else raw_r
        result["report"] = {
            "subset": report_name,
            "pairs": len(raw_r),
            "ece_before": expected_calibration_error(before, rel_r),
            "ece_after": expected_calibration_error(apply_calibration(calibration, raw_r), rel_r),
        }
        log.info(
            "%s: ECE on %s (%d pairs): %.4f before, %.4f after",
            model_dir,
            report_name,
            len(raw_r),
            result["report"]["ece_before"],
            result["report"]["ece_after"],
        )
    elif report_data is not None:
        log.warning("no %s pairs: the expected calibration error is not reported", report_name)
    metadata = ModelMetadata.load(model_dir)
    where = f"{source} ({fit_name}, {len(raw)} pairs)" if source else f"{fit_name} ({len(raw)} pairs)"
    metadata.calibration = {**calibration, "fitted_on": where}
    metadata.save(model_dir)
    if (Path(model_dir) / "README.md").exists():  # the model card rankwright wrote: now with the calibration
        write_model_card(model_dir, metadata)
    log.info("wrote the %s calibration (fitted on %s) into %s/rankwright.json", method, where, model_dir)
    return result
