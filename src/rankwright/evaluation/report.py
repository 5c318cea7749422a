"""Writing evaluation results: metrics.json, per-query table, predictions, TREC run,
and the printed table."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rankwright.data.readers.trec import write_run

TABLE_METRICS = ("ndcg@10", "ndcg", "map", "mrr", "p@10", "recall@100")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_json(obj: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(_jsonable(obj), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_outputs(
    out_dir: str | Path,
    metrics: dict[str, Any],
    per_query: pd.DataFrame,
    predictions: pd.DataFrame | None,
    run: pd.DataFrame,
    tag: str,
) -> dict[str, str]:
    """Write everything an evaluation produces; returns name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out / "metrics.json", "per_query": out / "per_query.csv", "run": out / "run.trec"}
    write_json(metrics, paths["metrics"])
    per_query.to_csv(paths["per_query"])
    write_run(run, paths["run"], tag=tag)
    if predictions is not None:
        paths["predictions"] = out / "predictions.parquet"
        predictions.to_parquet(paths["predictions"], index=False)
    return {k: str(v) for k, v in paths.items()}


#: What "informative" means wherever a table shows it (evaluation.ranking's rule).
INFORMATIVE = "informative: queries with at least one relevant and one non-relevant judged document"


def _subsets(rows: dict[str, dict[str, Any]]) -> tuple[tuple[str, ...], str]:
    """The query subsets worth a row, and the line that says what "informative" means:
    one row when every query (or none) is informative, since both rows would be the same."""
    counts = {(s["all"]["n_queries"], s["informative"]["n_queries"]) for s in rows.values()}
    if all(n == informative for n, informative in counts):
        return ("all",), "all = informative: every query has a relevant and a non-relevant judged document"
    if all(informative == 0 for _, informative in counts):
        return ("all",), "no query is informative (none has both a relevant and a non-relevant judged document)"
    return ("all", "informative"), INFORMATIVE


def format_table(rows: dict[str, dict[str, Any]], metrics: list[str] | None = None) -> str:
    """A plain-text table: one row per system and query subset (all, informative), then
    a blank line and what "informative" means."""
    first = next(iter(rows.values()))
    names = [m for m in (metrics or TABLE_METRICS) if m in first["all"]]
    header = ["system", "queries", "n", *names]
    lines = [header]
    subsets, note = _subsets(rows)
    for system, summary in rows.items():
        for subset in subsets:
            part = summary[subset]
            cells = [system, subset, str(part["n_queries"])]
            cells += ["-" if part.get(m) is None or math.isnan(part[m]) else f"{part[m]:.4f}" for m in names]
            lines.append(cells)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*text, "", note])


def format_classes(classes: dict[str, Any], by_label: list[dict[str, Any]]) -> str:
    """The multi-class report of seed 000: accuracy, macro F1, the confusion matrix
    (rows true, columns predicted) and the mean score per true label."""
    names = classes["confusion_matrix"]["classes"]
    matrix = classes["confusion_matrix"]["rows_true_columns_predicted"]
    width = max(6, *(len(str(n)) for n in names))
    lines = [
        f"{len(names)}-class accuracy {classes['accuracy']:.4f}, macro F1 {classes['macro_f1']:.4f}",
        "confusion matrix (rows true, columns predicted):",
        " " * width + "".join(f"{n:>{width + 1}}" for n in names),
    ]
    lines += [f"{n:>{width}}" + "".join(f"{v:>{width + 1}}" for v in row) for n, row in zip(names, matrix, strict=True)]
    lines.append("mean score per true label: " + ", ".join(f"{r['label']} {r['mean_score']:.4f}" for r in by_label))
    return "\n".join(lines)
