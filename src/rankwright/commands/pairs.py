"""``rankwright pairs``: interactions + items -> (user context, item text, label)
pairs per split on Dask, then the evaluated split's metrics for a model or scored
pairs next to the popularity and random baselines."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankwright.interactions.config import PairsConfig
from rankwright.interactions.evaluation import (
    evaluate_scores,
    format_results,
    model_scores,
    popularity_scores,
    random_result,
    read_popularity,
    read_scores,
)
from rankwright.interactions.output import PARTS, read_pairs
from rankwright.interactions.pipeline import POPULARITY_FILE, SUMMARY_FILE, build_pairs
from rankwright.interactions.selection import select_with_popularity
from rankwright.interactions.splitting import SPLITS
from rankwright.output_guard import Claim, claim_folder, writes_output

log = logging.getLogger(__name__)

EVALUATION_FILE = "evaluation.json"
#: what building the pairs writes into output.dir
OUTPUTS = (*(f"{s}.{ext}" for s in SPLITS for ext in ("jsonl", "parquet")), PARTS, SUMMARY_FILE, POPULARITY_FILE)


def _claim(config: PairsConfig) -> Claim | None:
    """The build's output folder (``build: false`` only adds evaluation.json to the pairs there)."""
    if not config.build:
        return None
    return claim_folder(config.output.dir, (*OUTPUTS, EVALUATION_FILE), overwrite=config.overwrite, flag="--output.dir")


@dataclass
class PairsResult:
    summary: dict[str, Any]
    evaluation: dict[str, dict[str, Any]]
    table: str
    paths: dict[str, str] = field(default_factory=dict)
    selection: dict[str, Any] | None = None  # the model/popularity selection on validation (see select_split)


def evaluate_split(config: PairsConfig) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """Metrics of the evaluated split for each system: the model, the scored pairs,
    (with baselines) popularity and random, and the system selected on validation
    (:func:`select_split`)."""
    ev = config.evaluation
    out_dir = Path(config.output.dir)
    try:
        pairs = read_pairs(out_dir, ev.split)
    except FileNotFoundError:
        if ev.model or ev.scores:
            raise
        log.warning("no %s pairs in %s: nothing to evaluate", ev.split, out_dir)
        return {}, None
    kwargs = {"unit": ev.unit, "ranking": ev.metrics}
    results: dict[str, dict[str, Any]] = {}
    scores = None
    if ev.model:
        scores = _model_scores(config, pairs)
        results[f"model {ev.model}"] = evaluate_scores(pairs, scores, **kwargs)
    if ev.scores:
        results[f"scores {ev.scores}"] = evaluate_scores(pairs, read_scores(ev.scores, pairs), **kwargs)
    selection = None
    if ev.baselines:
        popularity = read_popularity(out_dir / POPULARITY_FILE)
        results["popularity"] = evaluate_scores(pairs, popularity_scores(pairs, popularity), **kwargs)
        results["random"] = random_result(pairs, repeats=ev.random_repeats, seed=config.seed, **kwargs)
        if scores is not None and ev.select:
            selection = select_split(config, pairs, scores, popularity)
        if selection is not None:
            results[selection["label"]] = selection["test"]
    return results, selection


def _model_scores(config: PairsConfig, pairs) -> Any:
    ev = config.evaluation
    return model_scores(pairs, ev.model, batch_size=ev.batch_size, max_length=ev.max_length, progress=config.progress)


def select_split(config: PairsConfig, pairs, scores, popularity) -> dict[str, Any] | None:
    """The model, popularity and their fusions chosen on the validation split (which
    the model scores too), applied to the evaluated test split; None (with a log line)
    when the evaluated split is not test or there is no validation split."""
    ev = config.evaluation
    if ev.split != "test":
        log.info("no model/popularity selection: it is chosen on val and reported on test (evaluated: %s)", ev.split)
        return None
    try:
        val = read_pairs(Path(config.output.dir), "val")
    except FileNotFoundError:
        log.warning("no val pairs in %s: no model/popularity selection", config.output.dir)
        return None
    log.info("scoring the %d validation pairs to choose among the model, popularity and their fusions", len(val))
    return select_with_popularity(
        (val, _model_scores(config, val), popularity_scores(val, popularity)),
        (pairs, scores, popularity_scores(pairs, popularity)),
        unit=ev.unit,
        ranking=ev.metrics,
        seed=config.seed,
    )


@writes_output(_claim)
def main(config: PairsConfig) -> PairsResult:
    config.check()
    out_dir = Path(config.output.dir)
    if config.build:
        summary = build_pairs(config)
    else:
        path = out_dir / SUMMARY_FILE
        summary = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"output_dir": str(out_dir)}
        summary["rebuilt"] = False
    evaluation: dict[str, dict[str, Any]] = {}
    selection = None
    paths = {"summary": str(out_dir / SUMMARY_FILE)}
    if config.evaluation.model or config.evaluation.scores or config.evaluation.baselines:
        evaluation, selection = evaluate_split(config)
        report = {"split": config.evaluation.split, "unit": config.evaluation.unit, "systems": evaluation}
        if selection is not None:
            report["selection"] = {k: v for k, v in selection.items() if k not in ("label", "test")}
        (out_dir / EVALUATION_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        paths["evaluation"] = str(out_dir / EVALUATION_FILE)
    table = format_results(evaluation, config.evaluation.metrics.ndcg_at) if evaluation else ""
    return PairsResult(summary, evaluation, table, paths, selection)
