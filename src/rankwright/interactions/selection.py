"""Popularity as a component the selection can use, for interactions data.

On interactions, the rows to beat are popularity and random order; a model that is
below popularity must never be the system one ships alone. When ``rankwright pairs``
evaluates a model on the test split, the same model also scores the validation split,
and the candidates are chosen there only (:func:`rankwright.recipe.selection.select`):
the model alone, popularity alone, and their per-unit normalised fusions. The chosen
system is then applied to the test split once, and compared with popularity and with
the model alone by paired tests over the test units (users).

The popularity component is ``log(1 + training interactions)`` (the same order as the
count; a per-unit z-score of the log is not dominated by a few blockbuster items). An
item repeated within a unit keeps its highest component scores and label, as in
:func:`rankwright.interactions.evaluation.evaluate_scores`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rankwright.data.records import DOC_ID, QUERY_ID, SCORE
from rankwright.evaluation.ranking import GAIN, RankingConfig, evaluate_run
from rankwright.evaluation.significance import paired_comparison
from rankwright.inference.fusion import fuse
from rankwright.interactions.evaluation import UNIT_COLUMNS, evaluate_scores, unit_frame

MODEL, POPULARITY = "reranker", "popularity"


def _as_pairs(frame: pd.DataFrame, unit: str) -> pd.DataFrame:
    """A unit frame in the pairs layout :func:`evaluate_scores` reads (no repeats left)."""
    return pd.DataFrame(
        {UNIT_COLUMNS[unit]: frame[QUERY_ID], "doc_id": frame[DOC_ID], "label": frame[GAIN]}, index=frame.index
    )


def _per_unit(frame: pd.DataFrame, scores: np.ndarray, ranking: RankingConfig) -> pd.DataFrame:
    run = frame[[QUERY_ID, DOC_ID]].assign(**{SCORE: scores})
    return evaluate_run(run, frame[[QUERY_ID, DOC_ID, GAIN]], relevant_gain=1, config=ranking).per_query


def popularity_component(counts: np.ndarray) -> np.ndarray:
    return np.log1p(np.asarray(counts, dtype=float))


def select_with_popularity(
    val: tuple[pd.DataFrame, np.ndarray, np.ndarray],
    test: tuple[pd.DataFrame, np.ndarray, np.ndarray],
    *,
    unit: str,
    ranking: RankingConfig,
    seed: int = 0,
) -> dict[str, Any]:
    """``val`` and ``test``: (pairs, model scores, popularity counts). The selection on
    validation, the selected system's test metrics, and paired tests on test nDCG@10
    of the selected system and of the model alone against popularity."""
    from rankwright.recipe.selection import select

    frames = {}
    for name, (pairs, model, counts) in (("val", val), ("test", test)):
        frames[name] = unit_frame(pairs, {MODEL: model, POPULARITY: popularity_component(counts)}, unit)
    v = frames["val"]
    selection = select(
        v[[QUERY_ID, DOC_ID]],
        {MODEL: v[MODEL].to_numpy(), POPULARITY: v[POPULARITY].to_numpy()},
        v[[QUERY_ID, DOC_ID, GAIN]],
        1,
        first_stage=POPULARITY,
    )
    t = frames["test"]
    selected = fuse({MODEL: t[MODEL].to_numpy(), POPULARITY: t[POPULARITY].to_numpy()}, t[QUERY_ID], selection.fusion)
    metric = "ndcg@10"
    tables = {
        name: _per_unit(t, scores, ranking)
        for name, scores in (
            ("selected", selected),
            (MODEL, t[MODEL].to_numpy()),
            (POPULARITY, t[POPULARITY].to_numpy()),
        )
    }
    tests = {
        f"{name} vs popularity": paired_comparison(tables[name], tables[POPULARITY], metric, seed=seed)
        for name in ("selected", MODEL)
    }
    return {
        "label": f"selected: {selection.chosen}",
        "test": evaluate_scores(_as_pairs(t, unit), selected, unit=unit, ranking=ranking),
        "chosen": selection.chosen,
        "fusion": {k: v for k, v in selection.fusion.items() if k != "dense_model"},
        "uses_model": selection.uses_reranker,
        "validation": selection.validation,
        "messages": selection.messages,
        "paired_tests": tests,
    }
