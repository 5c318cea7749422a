"""Evaluate a scored run against relevance data: ranking metrics over all and over
informative queries, an optional random-order baseline, classification metrics on
the judged pairs, and every output written to one folder."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rankwright.data.labels import LabelScheme
from rankwright.data.readers.common import SOURCE_ROW
from rankwright.data.records import DOC, DOC_ID, LABEL, QUERY, QUERY_ID, SCORE, RelevanceData, is_missing
from rankwright.evaluation.classification import binary_metrics, by_label, class_metrics
from rankwright.evaluation.config import EvalOptions
from rankwright.evaluation.ranking import GAIN, RankingResult, evaluate_run, random_baseline, table_metrics
from rankwright.evaluation.report import format_table, write_outputs
from rankwright.evaluation.significance import compared_metrics
from rankwright.evaluation.standing import RANDOM, Standing, format_deltas, standing

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    per_query: pd.DataFrame
    predictions: pd.DataFrame | None
    run: pd.DataFrame
    table: str
    paths: dict[str, str] = field(default_factory=dict)
    results: dict[str, RankingResult] = field(default_factory=dict)  # each row's (system, random, baselines)


def qrels_of(data: RelevanceData, scheme: LabelScheme) -> pd.DataFrame:
    rows = data.pairs["source_row"].to_numpy() if "source_row" in data.pairs else None
    gains = scheme.gains(data.pairs[LABEL], data.report.source, rows)
    return pd.DataFrame({QUERY_ID: data.pairs[QUERY_ID], DOC_ID: data.pairs[DOC_ID], GAIN: gains})


def judged_qrels(data: RelevanceData, scheme: LabelScheme) -> pd.DataFrame:
    """The evaluation qrels: :func:`qrels_of` the pairs, then the judgments kept for
    evaluation only (documents without text), which no system can rank but which count
    in recall and nDCG denominators as trec_eval counts them."""
    qrels = qrels_of(data, scheme)
    extra = data.eval_only
    if extra is None or extra.empty:
        return qrels
    gains = scheme.gains(extra[LABEL], data.report.source, extra[SOURCE_ROW].to_numpy())
    more = pd.DataFrame({QUERY_ID: extra[QUERY_ID], DOC_ID: extra[DOC_ID], GAIN: gains})
    return pd.concat([qrels, more], ignore_index=True)


def _random_retrieval(data: RelevanceData, top_k: int, rng: np.random.Generator) -> pd.DataFrame:
    """k random corpus documents per query: the random-order row of a retrieval run."""
    doc_ids = np.array(list(data.documents()), dtype=object)
    k = min(top_k, len(doc_ids))
    frames = [
        pd.DataFrame({QUERY_ID: q, DOC_ID: rng.choice(doc_ids, size=k, replace=False)})
        for q in data.pairs[QUERY_ID].unique()
    ]
    return pd.concat(frames, ignore_index=True)


def _random_candidates(
    data: RelevanceData, run: pd.DataFrame, mode: str, top_k: int, rng: np.random.Generator
) -> pd.DataFrame:
    """What the random-order row shuffles: the judged candidates (rerank), k random
    corpus documents (retrieve) or the run's documents of the judged queries (qrels)."""
    if mode == "rerank":
        return data.pairs
    if mode == "qrels":
        judged = set(data.pairs[QUERY_ID].astype(str))
        return run.loc[run[QUERY_ID].astype(str).isin(judged), [QUERY_ID, DOC_ID]]
    return _random_retrieval(data, top_k, rng)


def _predictions(data: RelevanceData, scheme: LabelScheme, run: pd.DataFrame, qrels: pd.DataFrame) -> pd.DataFrame:
    """Judged pairs with their score and their rank in the whole run (the rank
    run.trec gives them; missing when the run did not score the pair)."""
    pairs = data.pairs[[QUERY_ID, QUERY, DOC_ID, DOC, LABEL]].copy()
    pairs[GAIN] = qrels[GAIN].to_numpy()
    pairs["relevant"] = pairs[GAIN] >= scheme.relevant_gain
    reserved = {*pairs.columns, SCORE, "rank"}
    extra = [c for c in run.columns if c not in reserved]
    ranked = run[[QUERY_ID, DOC_ID, SCORE, *extra]].copy()
    ordered = ranked.sort_values([QUERY_ID, SCORE, DOC_ID], ascending=[True, False, False], kind="mergesort")
    ranked["rank"] = ordered.groupby(QUERY_ID).cumcount().reindex(ranked.index) + 1
    scored = pairs.merge(ranked, on=[QUERY_ID, DOC_ID], how="left")
    scored["rank"] = scored["rank"].astype("Int64")
    return scored[[*pairs.columns, SCORE, "rank", *extra]]


def _classification(pred: pd.DataFrame, scheme: LabelScheme, options: EvalOptions) -> dict[str, Any]:
    scored = pred[pred[SCORE].notna()]
    if len(scored) < len(pred):
        log.warning(
            "%d judged pairs have no score in the run; classification metrics use the %d scored",
            len(pred) - len(scored),
            len(scored),
        )
    out: dict[str, Any] = {
        "binary": binary_metrics(scored["relevant"].to_numpy(), scored[SCORE].to_numpy(), options.decision_threshold)
    }
    predicted = None if options.decision_threshold is None else scored[SCORE].to_numpy() >= options.decision_threshold
    labels = scored[LABEL]
    if scheme.kind == "classes":  # by class name (numeric labels binned into classes included)
        names = np.array(scheme.classes, dtype=object)[scheme.class_index(labels)]
        labels = pd.Series(pd.Categorical(names, categories=scheme.classes), index=labels.index)  # in class order
    out["by_label"] = by_label(labels, scored[SCORE].to_numpy(), predicted)
    if scheme.kind == "classes" and "pred_class" in scored:
        true_idx = scheme.class_index(scored[LABEL])
        pred_idx = scheme.class_index(scored["pred_class"])
        out["classes"] = class_metrics(true_idx, pred_idx, scheme.classes)
    return out


def _per_query(
    data: RelevanceData, result: RankingResult, options: EvalOptions
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """The per-query metrics (with query texts when the data has them) and, with
    ``breakdown_by``, the metrics averaged per group of queries."""
    per_query = result.per_query.copy()
    if data.has_texts:
        per_query.insert(0, QUERY, per_query.index.map(data.query_texts()))
    if options.breakdown_by:
        return per_query, _breakdown(data, per_query, result.metrics, options.breakdown_by)
    return per_query, None


#: the breakdown group of the queries without a value in the ``breakdown_by`` column
MISSING_GROUP = "(missing)"


def _breakdown(data: RelevanceData, per_query: pd.DataFrame, metrics: list[str], by: str) -> dict[str, Any]:
    """Adds the ``by`` column to ``per_query`` (each query's first non-missing value) and
    averages the metrics per group. Every evaluated query is in one group: those without a
    value form the group :data:`MISSING_GROUP` (counted and logged), so the queries per
    group add up to the evaluated queries."""
    if by not in data.pairs:
        raise ValueError(f"breakdown_by={by!r} is not a column of the data")
    column = data.pairs[by]
    blank = column.isna()
    if not pd.api.types.is_numeric_dtype(column):
        blank |= column.astype(str).str.strip().eq("")  # blanks are missing too
    values = column.where(~blank)
    owners = values.groupby(data.pairs[QUERY_ID], sort=False).agg(["first", "nunique"])
    mixed = owners[owners["nunique"] > 1]
    if len(mixed):
        log.warning(
            "breakdown_by=%r: %d queries have more than one value; each counts in the group of its first, e.g. "
            "query %r in %r",
            by,
            len(mixed),
            mixed.index[0],
            mixed["first"].iloc[0],
        )
    per_query[by] = per_query.index.map(owners["first"])
    grouped = per_query.groupby(by, dropna=False)[metrics]
    means, sizes = grouped.mean(), grouped.size()
    names = [MISSING_GROUP if is_missing(key) else str(key) for key in sizes.index]
    if len(set(names)) < len(names):  # e.g. 1 and "1", or a value "(missing)": keep every group apart
        names = [MISSING_GROUP if is_missing(key) else repr(key) for key in sizes.index]
    missing = int(per_query[by].isna().sum())
    if missing:
        log.warning(
            "breakdown_by=%r: %d of %d evaluated queries have no value; they are the group %r",
            by,
            missing,
            len(per_query),
            MISSING_GROUP,
        )
    return {
        "by": by,
        "n_groups": len(means),
        "mean_over_groups": means.mean().to_dict(),
        "queries": len(per_query),
        "queries_per_group": dict(zip(names, sizes.astype(int).tolist(), strict=True)),
        "queries_missing": missing,
    }


def _systems(
    data: RelevanceData,
    scheme: LabelScheme,
    run: pd.DataFrame,
    system: str,
    qrels: pd.DataFrame,
    options: EvalOptions,
    mode: str,
    top_k: int,
    baselines: dict[str, RankingResult],
) -> dict[str, RankingResult]:
    """The rows of the table: the system, the random order (``options.random_baseline``), the baselines."""
    systems = {system: evaluate_run(run, qrels, scheme.relevant_gain, options.metrics)}
    if options.random_baseline:
        rng = np.random.default_rng(options.seed)
        candidates = _random_candidates(data, run, mode, top_k, rng)
        systems[RANDOM] = random_baseline(
            candidates, qrels, scheme.relevant_gain, options.metrics, repeats=options.random_repeats, seed=options.seed
        )
    clash = set(baselines) & set(systems)
    if clash:
        raise ValueError(f"baseline names {sorted(clash)} are taken by the system or the random-order row")
    return {**systems, **baselines}


def _standing(system: str, systems: dict[str, RankingResult]) -> Standing:
    """The system against every other row, on its paired-test metric (nDCG@10)."""
    result = systems[system]
    against = {name: r.per_query for name, r in systems.items() if name != system}
    return standing(system, result.per_query, against, compared_metrics(result.metrics)[0], "evaluated queries")


def evaluate_scores(
    data: RelevanceData,
    scheme: LabelScheme,
    run: pd.DataFrame,
    system: str,
    options: EvalOptions | None = None,
    *,
    mode: str = "rerank",
    top_k: int = 100,
    extra: dict[str, Any] | None = None,
    out_dir: str | Path | None = None,
    baselines: dict[str, RankingResult] | None = None,
) -> Evaluation:
    """Evaluate ``run`` (query_id, doc_id, score[, pred_class]) on ``data``.

    ``mode`` is ``rerank`` when the run scores the judged candidates (classification
    metrics and per-pair predictions are added), ``retrieve`` when it ranks a corpus,
    or ``qrels`` when it ranks documents known only by id (a qrels file alone; the
    random row shuffles the run's own documents of each judged query).

    ``baselines`` (name -> result on the same data, e.g. BM25's) are rows of the table
    beside the random-order row; the system is tested against each of them per query
    (``metrics["against_baselines"]``: the differences under the table, and a warning
    when it is below random order or BM25).
    """
    options = options or EvalOptions()
    qrels = judged_qrels(data, scheme)
    systems = _systems(data, scheme, run, system, qrels, options, mode, top_k, baselines or {})
    result = systems[system]
    summaries = {name: r.summary() for name, r in systems.items()}
    metrics: dict[str, Any] = {
        "system": system,
        "mode": mode,
        "ranking": summaries,
        "labels": scheme.to_dict(),
        "conventions": (
            "trec_eval via pytrec_eval (ir-measures): linear gains, log2 discount, score ties broken by doc_id "
            "descending; judged queries missing from the run score 0; MAP/MRR/P/R use gain >= relevant_gain"
        ),
        "data": data.report.to_dict(),
    }
    predictions = None
    if mode == "rerank":
        predictions = _predictions(data, scheme, run, qrels_of(data, scheme))
        metrics["classification"] = _classification(predictions, scheme, options)
    per_query, breakdown = _per_query(data, result, options)
    if breakdown is not None:
        metrics["breakdown"] = breakdown
    if extra:
        metrics.update(extra)
    table = format_table(summaries, table_metrics(options.metrics))
    if len(systems) > 1:
        stand = _standing(system, systems)
        metrics["against_baselines"] = stand.to_dict()
        table += "\n\n" + format_deltas(stand, summaries, table_metrics(options.metrics))
    evaluation = Evaluation(metrics, per_query, predictions, run, table, results=systems)
    if out_dir is not None:
        evaluation.paths = write_outputs(out_dir, metrics, per_query, predictions, run, tag=system.replace(" ", "_"))
    return evaluation
