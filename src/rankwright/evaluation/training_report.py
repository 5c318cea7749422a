"""Training curves from the Trainer's ``log_history``: ``training_curves.png`` (loss and
learning rate per logged step, validation metrics per evaluation) and a self-contained
``training_report.html`` with the curves, the training summary and the best checkpoint."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rankwright.evaluation import figures
from rankwright.evaluation.html_page import Figures, esc, write_page

CURVE_METRICS = ("ndcg@10", "map", "mrr")
TABLE_METRICS = ("ndcg@10", "ndcg", "map", "mrr", "p@10", "recall@100")
NOT_METRICS = ("eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "eval_loss")


def _is_metric(key: str) -> bool:
    return key.startswith("eval_") and key not in NOT_METRICS


def validation_per_evaluation(log_history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per validation run in ``log_history``: step, epoch and its ``eval_*``
    ranking metrics (runtimes left out), in the order they were logged."""
    rows = []
    for entry in log_history:
        values = {k: v for k, v in entry.items() if _is_metric(k)}
        if values:
            rows.append({"step": entry.get("step"), "epoch": entry.get("epoch"), **values})
    return rows


def curve_data(log_history: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The plain lists :func:`figures.training_curves` draws: loss and learning rate by
    step, and the validation metrics of :data:`CURVE_METRICS` (all queries) by step."""
    loss = [(e["step"], float(e["loss"])) for e in log_history if "loss" in e and "step" in e]
    lr = [(e["step"], float(e["learning_rate"])) for e in log_history if "learning_rate" in e and "step" in e]
    evaluations = validation_per_evaluation(log_history)
    names = [f"eval_{m}" for m in CURVE_METRICS if evaluations and f"eval_{m}" in evaluations[0]]
    if evaluations and not names:  # other cut-offs than the defaults: the first metric logged
        names = [next(k for k in evaluations[0] if _is_metric(k))]
    return {
        "loss_steps": [s for s, _ in loss],
        "loss": [v for _, v in loss],
        "lr_steps": [s for s, _ in lr],
        "learning_rate": [v for _, v in lr],
        "eval_steps": [e["step"] for e in evaluations],
        "eval_metrics": {n[len("eval_") :]: [float(e.get(n, math.nan)) for e in evaluations] for n in names},
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    return str(value)


def _epoch(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def _kv(rows: Sequence[tuple[str, Any]], table_id: str) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(_fmt(v))}</td></tr>" for k, v in rows)
    return f'<table id="{table_id}" class="kv">{body}</table>'


def best_checkpoint(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The step and value of the best validation (the one ``best/`` holds), or None."""
    best = summary.get("best_validation")
    if not best:
        return None
    ((metric, value),) = best.items()
    step = next((h.get("step") for h in summary.get("validation_history") or [] if h.get(metric) == value), None)
    return {"metric": metric, "value": value, "step": step}


def _one_decimal(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "-"


def _summary(summary: dict[str, Any]) -> str:
    rows = [
        ("optimizer steps", summary.get("global_steps")),
        ("training time (s)", _one_decimal(summary.get("train_runtime_s"))),
        ("of which validating (s)", _one_decimal(summary.get("validation_runtime_s"))),
        ("total time (s)", _one_decimal(summary.get("total_runtime_s"))),
        ("pairs seen", summary.get("pairs_seen")),
        ("pairs per second (training steps only)", _one_decimal(summary.get("pairs_per_second"))),
        ("training examples per epoch", summary.get("train_examples_per_epoch")),
        ("training queries skipped (no usable group)", summary.get("train_queries_skipped_no_usable_group")),
        ("mean training loss", summary.get("train_loss")),
        ("resumed from", summary.get("resumed_from") or "no (trained from scratch)"),
    ]
    calibration = summary.get("calibration")
    if calibration:
        ece = (
            "no test queries"
            if calibration.get("ece_before") is None
            else f"{calibration['ece_before']:.4f} -> {calibration['ece_after']:.4f}"
        )
        rows.append(("calibration", f"{calibration['method']} on {calibration['fitted_on']}; ECE on test {ece}"))
    return _kv(rows, "summary-table")


def _best(summary: dict[str, Any], out: Path) -> str:
    best = best_checkpoint(summary)
    if best is None:
        return (
            f'<p class="note">No validation ran, so there is no best checkpoint: the model is {esc(out / "final")}.</p>'
        )
    step = "?" if best["step"] is None else best["step"]
    return (
        f'<p id="best">{esc(out / "best")}: step {esc(step)}, {esc(best["metric"])} = {_fmt(best["value"])}. '
        f"The model at the end of training is {esc(out / 'final')}.</p>"
    )


def _validation(evaluations: list[dict[str, Any]]) -> str:
    if not evaluations:
        return '<p class="note">No validation ran (no validation queries, or training.eval_strategy no).</p>'
    names = [m for m in TABLE_METRICS if f"eval_{m}" in evaluations[0]]
    names = names or [k[len("eval_") :] for k in evaluations[0] if _is_metric(k) and not k.endswith("_informative")]
    head = "".join(f"<th>{esc(h)}</th>" for h in ["step", "epoch", *names])
    rows = []
    for e in evaluations:
        cells = [f'<td class="num">{esc(_fmt(e.get("step")))}</td>', f'<td class="num">{_epoch(e.get("epoch"))}</td>']
        cells += [f'<td class="num">{_fmt(e.get(f"eval_{m}"))}</td>' for m in names]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    caption = "all validation queries; the informative-query values are in train_summary.json"
    return (
        f'<table id="validation-table"><caption>{caption}</caption><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def write_training_report(
    out_dir: str | Path, summary: dict[str, Any], log_history: Sequence[dict[str, Any]]
) -> dict[str, str]:
    """Write ``training_curves.png`` and ``training_report.html`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = curve_data(log_history)
    figs = Figures()
    image = figs.img("training_curves", lambda: figures.training_curves(**data), alt="training curves")
    curves = out / "training_curves.png"
    curves.write_bytes(figs.png["training_curves"])
    notes = []
    if not data["loss"]:
        notes.append(
            f"The loss was never logged: training ran {summary.get('global_steps')} optimizer step(s), fewer "
            "than training.logging_steps; the mean training loss is in the summary."
        )
    sections = [
        ("summary", "Summary", _summary(summary)),
        ("best", "Best checkpoint", _best(summary, out)),
        ("curves", "Curves", "".join(f'<p class="note">{esc(n)}</p>' for n in notes) + image),
        ("validation", "Validation per evaluation", _validation(validation_per_evaluation(log_history))),
    ]
    report = write_page(
        out / "training_report.html",
        "rankwright training",
        str(out),
        sections,
        tab_title=f"rankwright training: {out.name}",
    )
    return {"training_curves": str(curves), "training_report": str(report)}
