"""Evaluation figures: each a decodable PNG drawn from its inputs without pyplot, and
the reliability bins that both the diagram and the ECE use."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread

from rankwright.evaluation import figures
from rankwright.evaluation.calibration import expected_calibration_error, reliability_bins

RNG = np.random.default_rng(0)
SCORES = RNG.random(200)
RELEVANT = SCORES + RNG.normal(0, 0.3, 200) > 0.6
LABELS = np.where(RELEVANT, 2, RNG.integers(0, 2, 200)).astype(object)

DRAWINGS = {
    "scores": lambda: figures.score_distribution(SCORES, LABELS, [0, 1, 2], ["0", "1", "2"]),
    "roc": lambda: figures.roc_curve(RELEVANT, SCORES),
    "pr": lambda: figures.pr_curve(RELEVANT, SCORES),
    "confusion": lambda: figures.confusion_matrix(np.array([[5, 1, 0], [2, 3, 1], [0, 0, 4]]), ["E", "S", "I"]),
    "per_query": lambda: figures.per_query_curve(SCORES[:40], "ndcg@10"),
    "reliability": lambda: figures.reliability_diagram(SCORES, RELEVANT),
}


@pytest.mark.parametrize("name", sorted(DRAWINGS))
def test_each_figure_is_a_png_with_content(name):
    png = DRAWINGS[name]()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pixels = imread(io.BytesIO(png))
    assert pixels.ndim == 3 and pixels.shape[0] >= 250 and pixels.shape[1] >= 250
    assert pixels.std() > 0.01
    assert DRAWINGS[name]() == png  # deterministic: no state carried between calls


def test_figures_register_nothing_with_pyplot():
    import matplotlib.pyplot as plt

    for draw in DRAWINGS.values():
        draw()
    assert plt.get_fignums() == []


def test_confusion_matrix_depends_on_the_counts():
    first = figures.confusion_matrix(np.array([[5, 1], [2, 3]]), ["E", "I"])
    assert figures.confusion_matrix(np.array([[5, 1], [2, 4]]), ["E", "I"]) != first


def test_reliability_bins_by_hand():
    probs = np.array([0.05, 0.15, 0.85, 0.95, 1.0])
    relevant = np.array([0, 1, 1, 1, 0], dtype=bool)
    table = reliability_bins(probs, relevant, bins=10)
    assert table["count"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 1, 2]  # 1.0 goes to the last bin
    assert table["mean_prob"][9] == pytest.approx(0.975)
    assert table["observed"][9] == pytest.approx(0.5)
    assert np.isnan(table["observed"][4])
    by_hand = (0.05 + 0.85 + 0.15 + 2 * 0.475) / 5
    assert expected_calibration_error(probs, relevant) == pytest.approx(by_hand)


def test_importing_the_report_does_not_import_matplotlib():
    code = "import sys, rankwright.evaluation.html_report; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
