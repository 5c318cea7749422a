"""Pair-level metrics against values worked out by hand: ROC-AUC as the share of
correctly ordered (relevant, non-relevant) pairs, thresholded accuracy/precision/
recall/F1, confusion matrices and per-class accuracy for ESCI classes, and score
summaries per raw label."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rankwright.evaluation.classification import binary_metrics, by_label, class_metrics


def pair_auc(relevant, scores):
    """Share of (positive, negative) pairs ordered correctly; ties count one half."""
    pos = [s for r, s in zip(relevant, scores, strict=True) if r]
    neg = [s for r, s in zip(relevant, scores, strict=True) if not r]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg))


# -- binary_metrics --------------------------------------------------------------------------


def test_roc_auc_is_the_share_of_ordered_pairs():
    relevant = np.array([1, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.4, 0.3])
    out = binary_metrics(relevant, scores)
    # Pairs (pos, neg): (0.9, 0.8) ok, (0.9, 0.3) ok, (0.4, 0.8) wrong, (0.4, 0.3) ok -> 3/4.
    assert out["roc_auc"] == pytest.approx(3 / 4, abs=1e-12)
    assert pair_auc(relevant, scores) == 3 / 4
    # AP: relevant at ranks 1 (precision 1) and 3 (precision 2/3), each half the recall.
    assert out["average_precision"] == pytest.approx(1 / 2 * 1 + 1 / 2 * 2 / 3, abs=1e-12)
    assert out["n_pairs"] == 4
    assert out["n_relevant"] == 2
    assert "accuracy" not in out  # no threshold, no decision metrics


def test_roc_auc_counts_ties_as_half():
    relevant = [True, False, True, False, False]
    scores = [0.5, 0.5, 0.9, 0.1, 0.95]
    # pos 0.5: tie 0.5 (1/2), > 0.1 (1), < 0.95 (0) -> 1.5; pos 0.9: > 0.5, > 0.1, < 0.95 -> 2. Total 3.5 / 6.
    out = binary_metrics(np.array(relevant), np.array(scores))
    assert out["roc_auc"] == pytest.approx(3.5 / 6, abs=1e-12)


def test_decision_metrics_at_a_threshold():
    relevant = np.array([1, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.4, 0.3])
    out = binary_metrics(relevant, scores, threshold=0.4)
    # score >= 0.4 predicted relevant: [1, 1, 1, 0] -> TP 2, FP 1, FN 0, TN 1.
    assert out["decision_threshold"] == 0.4
    assert out["accuracy"] == pytest.approx(3 / 4, abs=1e-12)
    assert out["precision"] == pytest.approx(2 / 3, abs=1e-12)
    assert out["recall"] == pytest.approx(1.0, abs=1e-12)
    assert out["f1"] == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1), abs=1e-12)


def test_decision_metrics_above_every_score():
    out = binary_metrics(np.array([1, 0, 0]), np.array([0.2, 0.1, 0.3]), threshold=0.5)
    # Nothing predicted relevant: TN 2, FN 1; precision has no denominator -> 0.
    assert out["accuracy"] == pytest.approx(2 / 3, abs=1e-12)
    assert out["precision"] == 0.0
    assert out["recall"] == 0.0
    assert out["f1"] == 0.0
    # 0.2 beats 0.1 but not 0.3.
    assert out["roc_auc"] == pytest.approx(1 / 2, abs=1e-12)


@pytest.mark.parametrize("relevant", [[1, 1, 1], [0, 0, 0]])
def test_auc_and_ap_are_none_with_one_class(relevant):
    out = binary_metrics(np.array(relevant), np.array([0.3, 0.2, 0.1]), threshold=0.25)
    assert out["roc_auc"] is None
    assert out["average_precision"] is None
    assert out["n_relevant"] == sum(relevant)
    # The thresholded metrics are still defined: predicted [1, 0, 0].
    assert out["accuracy"] == pytest.approx((1 if relevant[0] else 2) / 3, abs=1e-12)


# -- class_metrics on a tiny ESCI example -------------------------------------------------------

ESCI = ["E", "S", "C", "I"]


def idx(labels):
    return np.array([ESCI.index(c) for c in labels])


def test_class_metrics_confusion_and_per_class_accuracy():
    true = idx(["E", "S", "C", "I", "I", "E", "S"])
    pred = idx(["E", "E", "S", "I", "S", "E", "C"])
    out = class_metrics(true, pred, ESCI)
    assert out["confusion_matrix"]["classes"] == ESCI
    assert out["confusion_matrix"]["rows_true_columns_predicted"] == [
        [2, 0, 0, 0],  # true E: E, E
        [1, 0, 1, 0],  # true S: E, C
        [0, 1, 0, 0],  # true C: S
        [0, 1, 0, 1],  # true I: I, S
    ]
    assert out["accuracy"] == pytest.approx(3 / 7, abs=1e-12)
    assert out["per_class_accuracy"] == {"E": 1.0, "S": 0.0, "C": 0.0, "I": 0.5}
    assert out["support"] == {"E": 2, "S": 2, "C": 1, "I": 2}
    # F1 per class: E p 2/3 r 1 -> 0.8; S 0; C 0; I p 1 r 1/2 -> 2/3.
    assert out["macro_f1"] == pytest.approx((0.8 + 0.0 + 0.0 + 2 / 3) / 4, abs=1e-12)


def test_class_without_support_has_no_accuracy():
    true = idx(["E", "E", "I"])
    pred = idx(["E", "S", "I"])
    out = class_metrics(true, pred, ESCI)
    assert out["per_class_accuracy"] == {"E": 0.5, "S": None, "C": None, "I": 1.0}  # recall: None without true pairs
    assert out["support"] == {"E": 2, "S": 0, "C": 0, "I": 1}
    assert out["confusion_matrix"]["rows_true_columns_predicted"] == [
        [1, 1, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 1],
    ]
    assert out["accuracy"] == pytest.approx(2 / 3, abs=1e-12)


# -- by_label ----------------------------------------------------------------------------------


def test_by_label_mean_std_and_share():
    labels = pd.Series(["E", "I", "E", "S", "E", "I"])
    scores = np.array([0.9, 0.2, 0.7, 0.5, 0.8, 0.4])
    rows = by_label(labels, scores, predicted=scores >= 0.45)
    assert [r["label"] for r in rows] == ["E", "I", "S"]  # sorted
    e, i, s = rows
    assert e["count"] == 3
    assert e["mean_score"] == pytest.approx((0.9 + 0.7 + 0.8) / 3, abs=1e-12)
    # Sample standard deviation (n - 1): deviations 0.1, -0.1, 0.
    assert e["std_score"] == pytest.approx(math.sqrt((0.1**2 + 0.1**2 + 0.0) / 2), abs=1e-12)
    assert e["share_predicted_relevant"] == pytest.approx(1.0, abs=1e-12)
    assert i["count"] == 2
    assert i["mean_score"] == pytest.approx(0.3, abs=1e-12)
    assert i["share_predicted_relevant"] == pytest.approx(0.0, abs=1e-12)
    assert s["std_score"] is None  # one pair
    assert s["share_predicted_relevant"] == pytest.approx(1.0, abs=1e-12)


def test_by_label_numeric_labels_without_decision():
    labels = pd.Series([3.0, 1.0, 2.33, 1.0])
    rows = by_label(labels, np.array([0.9, 0.1, 0.6, 0.3]))
    assert [r["label"] for r in rows] == [1.0, 2.33, 3.0]
    assert isinstance(rows[0]["label"], float)  # a plain Python number, JSON-ready
    assert rows[0]["mean_score"] == pytest.approx(0.2, abs=1e-12)
    assert rows[0]["count"] == 2
    assert "share_predicted_relevant" not in rows[0]
