"""What validation during training scores: the validation pairs, or a part of them that a
run can afford (``training.validation_queries``: a seeded sample of the queries;
``training.validation_depth``: each query's top candidates). The part is drawn once,
from the run's seed, so every evaluation of a run, a resumed one included, scores the
same pairs; calibration and the final selection of the recipe still use them all."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from rankwright.data.records import QUERY_ID, RelevanceData
from rankwright.data.split import draw_queries
from rankwright.inference.candidates import FIRST_STAGE_SCORE

log = logging.getLogger(__name__)


def sample_queries(pairs: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """The pairs of ``n`` validation queries drawn with ``seed`` (all of them when ``n``
    is None or at least their number). The draw depends on the query ids alone, not on
    their order in the file."""
    chosen = draw_queries(pairs[QUERY_ID], n, seed)
    return pairs if chosen is None else pairs[pairs[QUERY_ID].astype(str).isin(chosen)]


def top_candidates(pairs: pd.DataFrame, depth: int | None) -> pd.DataFrame:
    """Each query's first ``depth`` candidates: by ``first_stage_score`` (highest first)
    where the pairs have that column, else in the order given."""
    if depth is None:
        return pairs
    if FIRST_STAGE_SCORE in pairs:
        order = np.argsort(-pairs[FIRST_STAGE_SCORE].to_numpy(dtype=float), kind="stable")
        pairs = pairs.iloc[order]
    return pairs.groupby(QUERY_ID, sort=False).head(depth).sort_index()


def affordable_validation(val: RelevanceData, queries: int | None, depth: int | None, seed: int) -> RelevanceData:
    """``val`` cut to ``queries`` sampled queries and ``depth`` candidates each (see the
    module's docstring); logs what is kept when either is set."""
    for name, value in (("validation_queries", queries), ("validation_depth", depth)):
        if value is not None and value < 1:
            raise ValueError(f"training.{name} must be at least 1 (or none for all), got {value}")
    if queries is None and depth is None:
        return val
    total = val.n_queries
    pairs = top_candidates(sample_queries(val.pairs, queries, seed), depth)
    kept = val.subset(set(pairs[QUERY_ID]))
    kept.pairs = pairs.reset_index(drop=True)
    if queries is not None:
        log.info(
            "validating on %d of %d validation queries (training.validation_queries, seed %d)",
            kept.n_queries,
            total,
            seed,
        )
    if depth is not None:
        order = "by first_stage_score" if FIRST_STAGE_SCORE in val.pairs else "in the order given"
        log.info(
            "validating on each query's top %d candidates %s (training.validation_depth): %d of %d pairs",
            depth,
            order,
            len(pairs),
            len(val.pairs),
        )
    return kept
