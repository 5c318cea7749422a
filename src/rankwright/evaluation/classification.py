"""Pair-level (classification) metrics with scikit-learn: threshold-free ROC-AUC and
average precision, thresholded accuracy/precision/recall/F1, confusion matrices for
named classes, and score summaries per true label."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm


def _clean(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def binary_metrics(relevant: np.ndarray, scores: np.ndarray, threshold: float | None = None) -> dict[str, Any]:
    """ROC-AUC and average precision of ``scores`` for the binary ``relevant``; with a
    decision ``threshold`` (score >= threshold means relevant), accuracy, precision,
    recall and F1 too. AUC/AP are None when only one class is present."""
    relevant = np.asarray(relevant, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    out: dict[str, Any] = {"n_pairs": len(relevant), "n_relevant": int(relevant.sum())}
    both = 0 < relevant.sum() < len(relevant)
    out["roc_auc"] = float(skm.roc_auc_score(relevant, scores)) if both else None
    out["average_precision"] = float(skm.average_precision_score(relevant, scores)) if both else None
    if threshold is not None:
        predicted = scores >= threshold
        out["decision_threshold"] = float(threshold)
        out["accuracy"] = float(skm.accuracy_score(relevant, predicted))
        p, r, f, _ = skm.precision_recall_fscore_support(relevant, predicted, average="binary", zero_division=0)
        out.update(precision=float(p), recall=float(r), f1=float(f))
    return out


def class_metrics(true_idx: np.ndarray, pred_idx: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro F1, confusion matrix (rows true, columns predicted) and per-class
    accuracy (recall of each class) for named classes."""
    labels = list(range(len(classes)))
    matrix = skm.confusion_matrix(true_idx, pred_idx, labels=labels)
    support = matrix.sum(axis=1)
    per_class = {c: (_clean(matrix[i, i] / support[i]) if support[i] else None) for i, c in enumerate(classes)}
    return {
        "accuracy": float(skm.accuracy_score(true_idx, pred_idx)),
        "macro_f1": float(skm.f1_score(true_idx, pred_idx, labels=labels, average="macro", zero_division=0)),
        "per_class_accuracy": per_class,
        "support": {c: int(s) for c, s in zip(classes, support, strict=True)},
        "confusion_matrix": {"classes": classes, "rows_true_columns_predicted": matrix.tolist()},
    }


def by_label(labels: pd.Series, scores: np.ndarray, predicted: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Per raw label value: count, mean and std of the score, and (with a decision)
    the share predicted relevant. The seed ESCI script prints the mean score per true
    label; the Home Depot seed analyses by relevance level."""
    frame = pd.DataFrame({"label": labels.reset_index(drop=True), "score": np.asarray(scores, dtype=float)})
    if predicted is not None:
        frame["predicted_relevant"] = np.asarray(predicted, dtype=float)
    rows = []
    for value, group in frame.groupby("label", sort=True, observed=True):
        row: dict[str, Any] = {
            "label": value.item() if hasattr(value, "item") else value,
            "count": len(group),
            "mean_score": float(group["score"].mean()),
            "std_score": _clean(float(group["score"].std())) if len(group) > 1 else None,
        }
        if predicted is not None:
            row["share_predicted_relevant"] = float(group["predicted_relevant"].mean())
        rows.append(row)
    return rows
