"""Evaluation figures as PNG bytes.

Each function takes plain arrays and returns a PNG. Figures are drawn on matplotlib's
Agg canvas without pyplot, so no figure is registered globally (nothing to close) and
no backend is switched; matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rankwright.evaluation.calibration import expected_calibration_error, reliability_bins

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 110


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    fig.clear()
    return buffer.getvalue()


def score_distribution(scores: np.ndarray, groups: np.ndarray, order: Sequence[object], names: Sequence[str]) -> bytes:
    """One histogram per true label (``order``, shown as ``names``), sharing the bins
    and the score axis, so the labels' score ranges can be compared top to bottom."""
    scores = np.asarray(scores, dtype=float)
    groups = np.asarray(groups, dtype=object)
    edges = np.histogram_bin_edges(scores, bins=30)
    from matplotlib.ticker import MaxNLocator

    fig = _figure(7.0, 1.0 + 1.0 * len(order))
    axes = fig.subplots(len(order), 1, sharex=True, squeeze=False)[:, 0]
    for i, (ax, value, name) in enumerate(zip(axes, order, names, strict=True)):
        mine = scores[groups == value]
        ax.hist(mine, bins=edges, color=f"C{i % 10}", alpha=0.8)
        ax.set_title(f"label {name} (n={len(mine)})", loc="left", fontsize=9)
        ax.set_ylabel("pairs", fontsize=8)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
        ax.tick_params(labelsize=8)
    fig.suptitle("score by true label")
    axes[-1].set_xlabel("score")
    return _png(fig)


def roc_curve(relevant: np.ndarray, scores: np.ndarray) -> bytes:
    """ROC curve of the scores for binary relevance, AUC in the legend."""
    from sklearn import metrics as skm

    fpr, tpr, _ = skm.roc_curve(relevant, scores)
    auc = skm.roc_auc_score(relevant, scores)
    fig = _figure(4.6, 4.2)
    ax = fig.subplots()
    ax.plot(fpr, tpr, label=f"system (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance (AUC 0.5)")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    return _png(fig)


def pr_curve(relevant: np.ndarray, scores: np.ndarray) -> bytes:
    """Precision-recall curve, average precision in the legend, prevalence as chance."""
    from sklearn import metrics as skm

    precision, recall, _ = skm.precision_recall_curve(relevant, scores)
    ap = skm.average_precision_score(relevant, scores)
    prevalence = float(np.mean(relevant))
    fig = _figure(4.6, 4.2)
    ax = fig.subplots()
    ax.step(recall, precision, where="post", label=f"system (AP {ap:.3f})")
    ax.axhline(prevalence, color="grey", linestyle="--", label=f"chance (AP {prevalence:.3f})")
    ax.set(xlabel="recall", ylabel="precision", title="precision-recall", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="upper right")
    return _png(fig)


def confusion_matrix(matrix: np.ndarray, classes: Sequence[str]) -> bytes:
    """Heat map of a confusion matrix (rows true, columns predicted) with the counts."""
    matrix = np.asarray(matrix)
    n = len(classes)
    fig = _figure(1.6 + 0.75 * n, 1.2 + 0.7 * n)
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    middle = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", color="white" if count > middle else "black")
    ax.set_xticks(range(n), labels=list(classes))
    ax.set_yticks(range(n), labels=list(classes))
    ax.set(xlabel="predicted class", ylabel="true class", title="confusion matrix")
    return _png(fig)


def per_query_curve(values: np.ndarray, metric: str = "ndcg@10") -> bytes:
    """Per-query ``metric`` sorted from worst to best, with the mean as a line."""
    values = np.sort(np.asarray(values, dtype=float))
    fig = _figure(7.0, 3.4)
    ax = fig.subplots()
    ax.plot(np.arange(1, len(values) + 1), values, marker="." if len(values) <= 200 else None)
    ax.axhline(values.mean(), color="C1", linestyle="--", label=f"mean {values.mean():.4f}")
    ax.set(xlabel=f"queries, sorted by {metric}", ylabel=metric, title=f"{metric} per query", ylim=(-0.02, 1.02))
    ax.legend(loc="lower right")
    return _png(fig)


def reliability_diagram(probs: np.ndarray, relevant: np.ndarray, bins: int = 10) -> bytes:
    """Observed share relevant against mean predicted probability per equal-width bin
    (the bins of the ECE in the title), with the pair count of each bin below."""
    table = reliability_bins(probs, relevant, bins)
    ece = expected_calibration_error(probs, relevant, bins)
    filled = table["count"] > 0
    edges = table["edges"]
    fig = _figure(5.0, 5.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    top.plot(table["mean_prob"][filled], table["observed"][filled], marker="o", label="system")
    top.set(ylabel="observed share relevant", title=f"reliability (ECE {ece:.4f}, {bins} bins)", ylim=(0, 1))
    top.legend(loc="upper left")
    bottom.bar(edges[:-1], table["count"], width=np.diff(edges), align="edge", edgecolor="white")
    for left, count in zip(edges[:-1], table["count"], strict=True):
        if count:
            bottom.text(left + 0.5 / bins, count, str(count), ha="center", va="bottom", fontsize=7)
    bottom.set(xlabel="mean predicted probability", ylabel="pairs", xlim=(0, 1), ylim=(0, 1.3 * table["count"].max()))
    return _png(fig)


def paired_differences(
    names: Sequence[str], differences: Sequence[Sequence[float]], metric: str = "ndcg@10", baseline: str = "baseline"
) -> bytes:
    """Per-query ``metric`` of each run minus the baseline's, each run's differences
    sorted from most negative to most positive, one line per run: the part of the line
    above zero is the queries the run wins, below zero those it loses."""
    fig = _figure(7.0, 3.8)
    ax = fig.subplots()
    ax.axhline(0.0, color="grey", linewidth=1)
    for i, (name, values) in enumerate(zip(names, differences, strict=True)):
        values = np.sort(np.asarray(values, dtype=float))
        if not len(values):
            continue
        wins, losses = int((values > 1e-12).sum()), int((values < -1e-12).sum())
        label = f"{name} (mean {values.mean():+.4f}; {wins} better, {losses} worse)"
        x = np.arange(1, len(values) + 1)
        ax.plot(x, values, color=f"C{i % 10}", marker="." if len(values) <= 200 else None, label=label)
    ax.set(
        xlabel=f"queries, sorted by the {metric} difference",
        ylabel=f"{metric} − {baseline}",
        title=f"per-query {metric} difference to {baseline}",
        ylim=(-1.05, 1.05),
    )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def _steps_panel(ax, steps: Sequence[float], values: Sequence[float], label: str, empty: str, **style) -> None:
    if len(values):
        ax.plot(list(steps), list(values), marker="." if len(values) <= 100 else None, label=label, **style)
    else:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_ylabel(label)


def training_curves(
    loss_steps: Sequence[float],
    loss: Sequence[float],
    lr_steps: Sequence[float],
    learning_rate: Sequence[float],
    eval_steps: Sequence[float],
    eval_metrics: dict[str, Sequence[float]],
) -> bytes:
    """Training loss and learning rate per logged step, and each validation metric
    per evaluation (a panel left out when nothing was evaluated; a panel with no
    logged value says so rather than being blank)."""
    from matplotlib.ticker import MaxNLocator

    panels = 3 if eval_metrics else 2
    fig = _figure(7.0, 1.0 + 2.1 * panels)
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    _steps_panel(axes[0], loss_steps, loss, "training loss", "no loss logged (fewer steps than logging_steps)")
    axes[0].set_title("training loss", loc="left", fontsize=9)
    _steps_panel(axes[1], lr_steps, learning_rate, "learning rate", "no learning rate logged", color="C1")
    axes[1].set_title("learning rate", loc="left", fontsize=9)
    axes[1].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    if eval_metrics:
        ax = axes[2]
        for i, (name, values) in enumerate(eval_metrics.items()):
            ax.plot(list(eval_steps), list(values), marker="o", color=f"C{(i + 2) % 10}", label=name)
        ax.set_title("validation", loc="left", fontsize=9)
        ax.set_ylabel("metric")
        ax.legend(loc="best", fontsize=8)
    for ax in axes:
        ax.tick_params(labelsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1].set_xlabel("optimizer step")
    return _png(fig)
