"""Per-query ranking metrics with trec_eval's conventions, computed by pytrec_eval
through ir-measures: linear gains, log2 discount, ties in score broken by document id
in descending order, queries judged but absent from the run scored 0 (``trec_eval -c``).

MAP, MRR, P@k and R@k use a binary relevance threshold on the integer gain
(``rel=relevant_gain``); nDCG uses the gains themselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rankwright.data.records import DOC_ID, QUERY_ID, SCORE
from rankwright.evaluation.config import (  # noqa: F401 (COMPACT, PREFIXES, table_metrics: re-exported)
    COMPACT,
    PREFIXES,
    RankingConfig,
    table_metrics,
)

if TYPE_CHECKING:
    import ir_measures

log = logging.getLogger(__name__)

GAIN = "gain"


def measure_names(config: RankingConfig, relevant_gain: int) -> dict[str, ir_measures.Measure]:
    """Our column name -> ir-measures measure."""
    import ir_measures  # here, not at import: training without validation needs no metrics library

    for name in ("ndcg_at", "precision_at", "recall_at"):
        bad = [k for k in getattr(config, name) if not isinstance(k, int) or k < 1]
        if bad:  # trec_eval aborts the whole process on a cut-off of 0
            raise ValueError(f"metrics.{name} cut-offs must be whole numbers >= 1, got {bad}")
    rel = int(relevant_gain)
    measures: dict[str, ir_measures.Measure] = {f"ndcg@{k}": ir_measures.nDCG @ k for k in config.ndcg_at}
    measures["ndcg"] = ir_measures.nDCG
    measures["map"] = ir_measures.AP(rel=rel)
    measures["mrr"] = ir_measures.RR(rel=rel)
    measures.update({f"p@{k}": ir_measures.P(rel=rel) @ k for k in config.precision_at})
    measures.update({f"recall@{k}": ir_measures.R(rel=rel) @ k for k in config.recall_at})
    return measures


@dataclass
class RankingResult:
    per_query: pd.DataFrame  # index query_id; metric columns + n_judged, n_relevant, informative
    metrics: list[str]
    dropped_run_queries: int = 0
    missing_run_queries: int = 0

    def mean(self, subset: str = "all") -> dict[str, float]:
        frame = self.per_query if subset == "all" else self.per_query[self.per_query["informative"]]
        return {m: float(frame[m].mean()) if len(frame) else float("nan") for m in self.metrics}

    def summary(self) -> dict[str, object]:
        informative = int(self.per_query["informative"].sum())
        return {
            "all": {"n_queries": len(self.per_query), **self.mean("all")},
            "informative": {"n_queries": informative, **self.mean("informative")},
            "run_queries_without_judgments_dropped": self.dropped_run_queries,
            "judged_queries_missing_from_run_scored_0": self.missing_run_queries,
        }


def evaluate_run(
    scores: pd.DataFrame,
    qrels: pd.DataFrame,
    relevant_gain: int,
    config: RankingConfig | None = None,
) -> RankingResult:
    """Per-query metrics of ``scores`` (query_id, doc_id, score) against ``qrels``
    (query_id, doc_id, gain: non-negative integers)."""
    import ir_measures

    config = config or RankingConfig()
    measures = measure_names(config, relevant_gain)
    qrels = qrels[[QUERY_ID, DOC_ID, GAIN]].astype({QUERY_ID: str, DOC_ID: str})
    if (qrels[GAIN] < 0).any():
        raise ValueError("qrels gains must be non-negative integers; map grades to gains first")
    judged_queries = pd.Index(qrels[QUERY_ID].unique())
    run = scores[[QUERY_ID, DOC_ID, SCORE]].astype({QUERY_ID: str, DOC_ID: str, SCORE: float})
    in_qrels = run[QUERY_ID].isin(judged_queries)
    dropped = int(run.loc[~in_qrels, QUERY_ID].nunique())
    run = run[in_qrels]
    qrel_records = [
        ir_measures.Qrel(q, d, int(g)) for q, d, g in zip(qrels[QUERY_ID], qrels[DOC_ID], qrels[GAIN], strict=True)
    ]
    run_records = [
        ir_measures.ScoredDoc(q, d, s) for q, d, s in zip(run[QUERY_ID], run[DOC_ID], run[SCORE], strict=True)
    ]
    values: dict[str, dict[str, float]] = {name: {} for name in measures}
    by_measure = {m: name for name, m in measures.items()}
    evaluator = ir_measures.pytrec_eval.evaluator(list(measures.values()), qrel_records)
    for metric in evaluator.iter_calc(run_records):
        values[by_measure[metric.measure]][metric.query_id] = metric.value
    per_query = pd.DataFrame(values, index=judged_queries).fillna(0.0)
    per_query.index.name = QUERY_ID
    missing = int((~judged_queries.isin(run[QUERY_ID].unique())).sum())
    grouped = qrels.assign(rel=qrels[GAIN] >= relevant_gain).groupby(QUERY_ID)
    per_query["n_judged"] = grouped.size()
    per_query["n_relevant"] = grouped["rel"].sum().astype(int)
    per_query["informative"] = (per_query["n_relevant"] > 0) & (per_query["n_relevant"] < per_query["n_judged"])
    return RankingResult(per_query, list(measures), dropped, missing)


def random_scores(candidates: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Uniform random scores for each (query_id, doc_id): a random-order ranking."""
    out = candidates[[QUERY_ID, DOC_ID]].copy()
    out[SCORE] = rng.random(len(out))
    return out


def random_baseline(
    candidates: pd.DataFrame,
    qrels: pd.DataFrame,
    relevant_gain: int,
    config: RankingConfig | None = None,
    *,
    repeats: int = 10,
    seed: int = 0,
) -> RankingResult:
    """The expected metrics of a random order, estimated as the per-query mean over
    ``repeats`` seeded shuffles of the candidates."""
    if repeats < 1:
        raise ValueError(
            f"eval.random_repeats (shuffles averaged for the random row) must be at least 1, got {repeats}"
        )
    rng = np.random.default_rng(seed)
    results = [evaluate_run(random_scores(candidates, rng), qrels, relevant_gain, config) for _ in range(repeats)]
    first = results[0]
    per_query = first.per_query.copy()
    per_query[first.metrics] = sum(r.per_query[first.metrics] for r in results) / repeats
    return RankingResult(per_query, first.metrics, first.dropped_run_queries, first.missing_run_queries)
