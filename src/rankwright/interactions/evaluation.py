"""Evaluation of scored pairs the way seed 004 reports them, with rankwright's
conventions: per-user MAP and nDCG@k computed by trec_eval (through
:func:`rankwright.evaluation.ranking.evaluate_run`: ties in score broken by item id,
not averaged as scikit-learn's ``ndcg_score`` does), plus ROC-AUC and average
precision over all pairs (scikit-learn). A popularity scorer (training interactions
per item) and a random scorer give the rows to beat.

The ranking unit is the user by default (all of a user's rows, whatever context
they were scored with, form one ranking, as in the seed) or the query (one
positive's group).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rankwright.data.readers.common import no_repeated_scores
from rankwright.data.records import DOC_ID, QUERY_ID, SCORE, DataError
from rankwright.evaluation.classification import binary_metrics
from rankwright.evaluation.ranking import GAIN, RankingConfig, evaluate_run

log = logging.getLogger(__name__)

UNIT_COLUMNS = {"user": "user_id", "query": "query_id"}


def unit_frame(pairs: pd.DataFrame, components: dict[str, np.ndarray], unit: str) -> pd.DataFrame:
    """One row per (unit, item), keyed query_id/doc_id, with its label as ``gain`` and
    each of ``components`` (name -> one score per pair); an item in a unit's rows twice
    keeps its highest scores and label."""
    frame = pd.DataFrame(
        {
            QUERY_ID: pairs[UNIT_COLUMNS[unit]].astype(str).to_numpy(),
            DOC_ID: pairs["doc_id"].astype(str).to_numpy(),
            GAIN: (pairs["label"].astype(float).to_numpy() > 0).astype(int),
            **{name: np.asarray(values, dtype=float) for name, values in components.items()},
        }
    )
    return frame.groupby([QUERY_ID, DOC_ID], sort=False, as_index=False).max()


def _unit_frames(pairs: pd.DataFrame, scores: np.ndarray, unit: str) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(run, qrels, repeated pairs merged) keyed by the unit (:func:`unit_frame`)."""
    merged = unit_frame(pairs, {SCORE: scores}, unit)
    return merged[[QUERY_ID, DOC_ID, SCORE]], merged[[QUERY_ID, DOC_ID, GAIN]], len(pairs) - len(merged)


def evaluate_scores(
    pairs: pd.DataFrame, scores: np.ndarray, *, unit: str = "user", ranking: RankingConfig | None = None
) -> dict[str, Any]:
    """Mean per-unit MAP, MRR, nDCG@k (trec_eval) and pair-level ROC-AUC and AP."""
    ranking = ranking or RankingConfig(ndcg_at=[1, 3, 5, 10], precision_at=[1], recall_at=[10])
    run, qrels, repeated = _unit_frames(pairs, scores, unit)
    result = evaluate_run(run, qrels, relevant_gain=1, config=ranking)
    means = result.mean("all")
    binary = binary_metrics(pairs["label"].astype(float).to_numpy() > 0, np.asarray(scores, dtype=float))
    out: dict[str, Any] = {
        "unit": unit,
        "n_units": len(result.per_query),
        "n_units_with_positive": int((result.per_query["n_relevant"] > 0).sum()),
        "n_pairs": int(binary["n_pairs"]),
        "n_positive": int(binary["n_relevant"]),
        "repeated_pairs_merged": repeated,
    }
    out.update({name: means[name] for name in ("map", "mrr", *(f"ndcg@{k}" for k in ranking.ndcg_at))})
    out.update(roc_auc=binary["roc_auc"], average_precision=binary["average_precision"])
    return out


def popularity_scores(pairs: pd.DataFrame, popularity: pd.Series) -> np.ndarray:
    """Each pair's item's training interactions (0 for an item never seen)."""
    return pairs["doc_id"].astype(str).map(popularity).fillna(0).to_numpy(dtype=float)


def random_result(
    pairs: pd.DataFrame, *, unit: str, ranking: RankingConfig | None, repeats: int = 10, seed: int = 0
) -> dict[str, Any]:
    """The metrics of random scores, averaged over ``repeats`` seeded draws."""
    rng = np.random.default_rng(seed)
    results = [evaluate_scores(pairs, rng.random(len(pairs)), unit=unit, ranking=ranking) for _ in range(repeats)]
    out = dict(results[0])
    for name, value in results[0].items():
        if isinstance(value, float):
            out[name] = float(np.mean([r[name] for r in results]))
    out["repeats"] = repeats
    return out


def read_popularity(path: str | Path) -> pd.Series:
    """item_id -> training interactions, from the pipeline's ``item_popularity.parquet``."""
    frame = pd.read_parquet(path)
    return pd.Series(frame["training_interactions"].to_numpy(), index=frame["item_id"].astype(str))


def model_scores(
    pairs: pd.DataFrame, model: str, *, batch_size: int = 64, max_length: int | None = None, progress: bool = True
) -> np.ndarray:
    """Scores of a reranker (model folder) for each (context, item text) pair."""
    from rankwright.inference.reranker import Reranker

    reranker = Reranker.from_pretrained(model, max_length=max_length)
    return reranker.score(pairs["query"].tolist(), pairs["doc"].tolist(), batch_size=batch_size, progress=progress)


def read_scores(path: str | Path, pairs: pd.DataFrame) -> np.ndarray:
    """Scores from a csv/tsv/parquet file with (query_id or user_id), doc_id, score,
    aligned with ``pairs``; a pair without a score is an error naming the file."""
    path = Path(path)
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", dtype={"doc_id": str})
    key = "query_id" if "query_id" in frame else "user_id" if "user_id" in frame else None
    if key is None or not {"doc_id", "score"} <= set(frame):
        raise DataError(str(path), f"needs columns query_id (or user_id), doc_id, score; has {list(frame.columns)}")
    frame = frame.astype({key: str, "doc_id": str})
    no_repeated_scores(frame, str(path), key)
    lookup = frame.set_index([key, "doc_id"])["score"]
    index = pd.MultiIndex.from_arrays([pairs[key].astype(str), pairs["doc_id"].astype(str)])
    scores = lookup.reindex(index).to_numpy(dtype=float)
    missing = np.isnan(scores)
    if missing.any():
        first = index[int(np.flatnonzero(missing)[0])]
        raise DataError(
            str(path), f"{int(missing.sum())} pairs have no score, e.g. {key} {first[0]!r}, doc {first[1]!r}"
        )
    return scores


def format_results(results: dict[str, dict[str, Any]], ndcg_at: list[int]) -> str:
    """One line per system: MAP, MRR, nDCG@k, ROC-AUC, AP."""
    columns = ["map", "mrr", *(f"ndcg@{k}" for k in ndcg_at), "roc_auc", "average_precision"]
    headers = ["MAP", "MRR", *(f"nDCG@{k}" for k in ndcg_at), "ROC-AUC", "AP"]
    width = max(len(name) for name in results) if results else 6
    lines = [f"{'system':<{width}}  " + "  ".join(f"{h:>8}" for h in headers)]
    for name, result in results.items():
        cells = ["       -" if result.get(c) is None else f"{result[c]:>8.4f}" for c in columns]
        lines.append(f"{name:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)
