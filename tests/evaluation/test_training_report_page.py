"""The training curves' inputs taken from a hand-made Trainer log_history, the figure
for every shape of history (no validation, nothing logged), the page, and the
comparison figure of ``rankwright compare``."""

from __future__ import annotations

import io

import pytest
from matplotlib.image import imread

from rankwright.evaluation import figures
from rankwright.evaluation.training_report import (
    best_checkpoint,
    curve_data,
    validation_per_evaluation,
    write_training_report,
)

HISTORY = [
    {"loss": 0.9, "grad_norm": 2.0, "learning_rate": 1e-3, "epoch": 0.5, "step": 5},
    {"loss": 0.7, "grad_norm": 1.5, "learning_rate": 5e-4, "epoch": 1.0, "step": 10},
    {
        "eval_ndcg@10": 0.6,
        "eval_map": 0.5,
        "eval_mrr": 0.7,
        "eval_ndcg@10_informative": 0.4,
        "eval_runtime": 0.2,
        "epoch": 1.0,
        "step": 10,
    },
    {"loss": 0.4, "grad_norm": 1.0, "learning_rate": 0.0, "epoch": 1.5, "step": 15},
    {
        "eval_ndcg@10": 0.8,
        "eval_map": 0.55,
        "eval_mrr": 0.9,
        "eval_ndcg@10_informative": 0.6,
        "eval_runtime": 0.2,
        "epoch": 2.0,
        "step": 20,
    },
    {"train_runtime": 3.0, "train_samples_per_second": 9.0, "train_loss": 0.6, "epoch": 2.0, "step": 20},
]


def _pixels(png: bytes):
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return imread(io.BytesIO(png))


def test_curve_data_splits_loss_learning_rate_and_validation():
    data = curve_data(HISTORY)
    assert data["loss_steps"] == [5, 10, 15] and data["loss"] == [0.9, 0.7, 0.4]
    assert data["lr_steps"] == [5, 10, 15] and data["learning_rate"] == [1e-3, 5e-4, 0.0]
    assert data["eval_steps"] == [10, 20]
    assert data["eval_metrics"] == {"ndcg@10": [0.6, 0.8], "map": [0.5, 0.55], "mrr": [0.7, 0.9]}


def test_validation_per_evaluation_keeps_metrics_not_runtimes():
    rows = validation_per_evaluation(HISTORY)
    assert rows == [
        {
            "step": 10,
            "epoch": 1.0,
            "eval_ndcg@10": 0.6,
            "eval_map": 0.5,
            "eval_mrr": 0.7,
            "eval_ndcg@10_informative": 0.4,
        },
        {
            "step": 20,
            "epoch": 2.0,
            "eval_ndcg@10": 0.8,
            "eval_map": 0.55,
            "eval_mrr": 0.9,
            "eval_ndcg@10_informative": 0.6,
        },
    ]
    assert validation_per_evaluation(HISTORY[:2] + HISTORY[-1:]) == []


def test_other_cut_offs_plot_the_first_metric_logged():
    history = [{"eval_ndcg@5": 0.3, "eval_runtime": 1.0, "step": 4}, {"eval_ndcg@5": 0.5, "step": 8}]
    assert curve_data(history)["eval_metrics"] == {"ndcg@5": [0.3, 0.5]}


@pytest.mark.parametrize(
    ("history", "panels"),
    [(HISTORY, 3), (HISTORY[:2], 2), (HISTORY[-1:], 2), ([], 2)],
    ids=["validated", "no-validation", "nothing-logged", "empty"],
)
def test_curves_draw_for_every_history(history, panels):
    pixels = _pixels(figures.training_curves(**curve_data(history)))
    height = round((1.0 + 2.1 * panels) * figures.DPI)
    assert pixels.shape[0] == pytest.approx(height, abs=2) and pixels.std() > 0.01


def test_best_checkpoint_is_the_first_evaluation_reaching_the_best_value():
    summary = {
        "best_validation": {"eval_ndcg@10": 0.8},
        "validation_history": [
            {"step": 10, "eval_ndcg@10": 0.6},
            {"step": 20, "eval_ndcg@10": 0.8},
            {"step": 30, "eval_ndcg@10": 0.8},
        ],
    }
    assert best_checkpoint(summary) == {"metric": "eval_ndcg@10", "value": 0.8, "step": 20}
    assert best_checkpoint({"best_validation": None}) is None


def test_page_lists_each_evaluation_and_the_best_step(tmp_path):
    summary = {
        "global_steps": 20,
        "train_loss": 0.6,
        "best_validation": {"eval_ndcg@10": 0.8},
        "validation_history": [{"step": 10, "eval_ndcg@10": 0.6}, {"step": 20, "eval_ndcg@10": 0.8}],
    }
    paths = write_training_report(tmp_path, summary, HISTORY)
    page = (tmp_path / "training_report.html").read_text(encoding="utf-8")
    assert paths["training_report"] == str(tmp_path / "training_report.html")
    assert _pixels((tmp_path / "training_curves.png").read_bytes()).shape[0] > 700
    assert f"{tmp_path / 'best'}: step 20, eval_ndcg@10 = 0.8000" in page
    table = page.split('id="validation-table"')[1]
    assert table.count("<tr>") == 3  # header and two evaluations
    assert '<td class="num">10</td><td class="num">1.00</td><td class="num">0.6000</td>' in table
    assert "never logged" not in page


def test_paired_differences_figure():
    png = figures.paired_differences(["a", "b"], [[0.1, -0.2, 0.0], [0.5, 0.5, -1.0]], "ndcg@10", "base")
    pixels = _pixels(png)
    assert pixels.shape[0] >= 300 and pixels.shape[1] >= 600 and pixels.std() > 0.01
    assert figures.paired_differences(["a"], [[0.1, -0.2, 0.0]], "ndcg@10", "base") != png
