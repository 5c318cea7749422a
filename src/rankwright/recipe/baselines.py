"""The baselines as soon as they exist: the first stage's and the zero-shot dense
rerank's validation and test metrics, logged and written to ``baselines.json`` before
any training starts, so a run that is stopped still says where the user stands."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from rankwright.data.labels import LabelScheme
from rankwright.data.records import DOC_ID, QUERY_ID, SCORE, RelevanceData
from rankwright.evaluation.evaluate import judged_qrels
from rankwright.evaluation.ranking import RankingConfig, evaluate_run
from rankwright.evaluation.report import write_json
from rankwright.inference.candidates import DENSE_SCORE, FIRST_STAGE_SCORE

log = logging.getLogger(__name__)

SHOWN = ("ndcg@10", "map", "mrr")


def baseline_metrics(
    ranked: dict[str, pd.DataFrame],
    parts: dict[str, RelevanceData],
    scheme: LabelScheme,
    metrics: RankingConfig,
    first_stage: str,
) -> dict[str, dict[str, Any]]:
    """system -> split -> mean metrics (all queries), for the first stage and, where every
    candidate has a cosine, the zero-shot dense rerank."""
    columns = {first_stage: FIRST_STAGE_SCORE, "dense rerank (zero-shot)": DENSE_SCORE}
    out: dict[str, dict[str, Any]] = {}
    for system, column in columns.items():
        for split, frame in ranked.items():
            if column not in frame or frame[column].isna().any():
                continue
            run = frame[[QUERY_ID, DOC_ID]].assign(**{SCORE: frame[column].to_numpy(dtype=float)})
            result = evaluate_run(run, judged_qrels(parts[split], scheme), scheme.relevant_gain, metrics)
            out.setdefault(system, {})[split] = {"n_queries": len(result.per_query), **result.mean("all")}
    return out


def write_baselines(
    ranked: dict[str, pd.DataFrame],
    parts: dict[str, RelevanceData],
    scheme: LabelScheme,
    metrics: RankingConfig,
    first_stage: str,
    output_dir: Path,
) -> dict[str, dict[str, Any]]:
    """:func:`baseline_metrics`, logged one line per system and split and written to
    ``output_dir/baselines.json``."""
    values = baseline_metrics(ranked, parts, scheme, metrics, first_stage)
    for system, splits in values.items():
        for split, m in splits.items():
            shown = ", ".join(f"{k} {m[k]:.4f}" for k in SHOWN if k in m)
            log.info("baseline %s on %s (%d queries): %s", system, split, m["n_queries"], shown)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(values, output_dir / "baselines.json")
    return values
