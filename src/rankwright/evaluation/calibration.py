"""Calibration: a fitted map from a model's raw score to P(relevant), stored in the
model folder's ``rankwright.json`` (``calibration``), and the expected calibration
error that says whether it helps.

- ``platt``: ``sigmoid(a * score + b)``, a logistic regression on the score.
- ``temperature``: ``sigmoid(score / t)``: one parameter, keeps the decision threshold
  at 0 (for logits).
- ``isotonic``: a monotone step function (scikit-learn), interpolated between its
  thresholds; the most flexible, needs the most data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

METHODS = ("platt", "temperature", "isotonic")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def fit_calibration(scores: np.ndarray, relevant: np.ndarray, method: str = "platt") -> dict[str, Any]:
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, got {method!r}")
    if relevant.all() or not relevant.any():
        raise ValueError("calibration needs relevant and non-relevant pairs in the fitting data")
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, max_iter=1000).fit(scores[:, None], relevant)
        return {"method": method, "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    if method == "temperature":
        from scipy.optimize import minimize_scalar

        def nll(log_t: float) -> float:
            p = np.clip(_sigmoid(scores / np.exp(log_t)), 1e-12, 1 - 1e-12)
            return -float(np.mean(relevant * np.log(p) + (~relevant) * np.log(1 - p)))

        best = minimize_scalar(nll, bounds=(-7.0, 7.0), method="bounded")
        return {"method": method, "t": float(np.exp(best.x))}
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, relevant.astype(float))
    return {"method": method, "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}


def apply_calibration(calibration: dict[str, Any], scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    method = calibration.get("method")
    if method == "platt":
        return _sigmoid(calibration["a"] * scores + calibration["b"])
    if method == "temperature":
        return _sigmoid(scores / calibration["t"])
    if method == "isotonic":
        return np.interp(scores, calibration["x"], calibration["y"])
    raise ValueError(f"unknown calibration method {method!r}")


def reliability_bins(probs: np.ndarray, relevant: np.ndarray, bins: int = 10) -> dict[str, np.ndarray]:
    """Equal-width probability bins (the last one closed): per bin, the number of
    pairs, their mean prediction and the share relevant (NaN for an empty bin)."""
    probs = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    relevant = np.asarray(relevant, dtype=float)
    which = np.minimum((probs * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_prob = np.bincount(which, weights=probs, minlength=bins) / count
        observed = np.bincount(which, weights=relevant, minlength=bins) / count
    return {"edges": np.linspace(0.0, 1.0, bins + 1), "count": count, "mean_prob": mean_prob, "observed": observed}


def expected_calibration_error(probs: np.ndarray, relevant: np.ndarray, bins: int = 10) -> float:
    """Weighted mean over equal-width probability bins of |mean prediction - share
    relevant|."""
    table = reliability_bins(probs, relevant, bins)
    filled = table["count"] > 0
    gaps = np.abs(table["mean_prob"][filled] - table["observed"][filled])
    return float((table["count"][filled] * gaps).sum() / table["count"].sum())
