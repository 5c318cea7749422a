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


def evaluate_split(config: PairsConfig) -> dict[str, dict[str, Any]]:
    """Metrics of the evaluated split for each system: the model, the scored pairs,
    and (with baselines) popularity and random."""
    ev = config.evaluation
    out_dir = Path(config.output.dir)
    try:
        pairs = read_pairs(out_dir, ev.split)
    except FileNotFoundError:
        if ev.model or ev.scores:
            raise
        log.warning("no %s pairs in %s: nothing to evaluate", ev.split, out_dir)
        return {}
    kwargs = {"unit": ev.unit, "ranking": ev.metrics}
    results: dict[str, dict[str, Any]] = {}
    if ev.model:
        scores = model_scores(
            pairs, ev.model, batch_size=ev.batch_size, max_length=ev.max_length, progress=config.progress
        )
        results[f"model {ev.model}"] = evaluate_scores(pairs, scores, **kwargs)
    if ev.scores:
        results[f"scores {ev.scores}"] = evaluate_scores(pairs, read_scores(ev.scores, pairs), **kwargs)
    if ev.baselines:
        popularity = read_popularity(out_dir / POPULARITY_FILE)
        results["popularity"] = evaluate_scores(pairs, popularity_scores(pairs, popularity), **kwargs)
        results["random"] = random_result(pairs, repeats=ev.random_repeats, seed=config.seed, **kwargs)
    return results


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
    paths = {"summary": str(out_dir / SUMMARY_FILE)}
    if config.evaluation.model or config.evaluation.scores or config.evaluation.baselines:
        evaluation = evaluate_split(config)
        report = {"split": config.evaluation.split, "unit": config.evaluation.unit, "systems": evaluation}
        (out_dir / EVALUATION_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        paths["evaluation"] = str(out_dir / EVALUATION_FILE)
    table = format_results(evaluation, config.evaluation.metrics.ndcg_at) if evaluation else ""
    return PairsResult(summary, evaluation, table, paths)
