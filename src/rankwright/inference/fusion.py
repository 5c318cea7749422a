"""Score fusion: a reranker's score combined with first-stage and/or dense scores.

A fused score is a weighted sum of per-query normalised component scores::

    fused = sum(weights[c] * normalise(component[c], per query, method))

Components are ``reranker`` (the model's own ranking score), ``biencoder`` (the
cosine of a fine-tuned bi-encoder, the folder ``biencoder_model``), ``first_stage``
(the score of the run the candidates came from, e.g. BM25), ``dense`` (the cosine
of a sentence-embedding model, ``dense_model``) and ``popularity`` (interactions data:
log(1 + an item's training interactions), see :mod:`rankwright.interactions.selection`). Methods:

- ``minmax``: ``(s - min) / (max - min)`` per query; a query whose scores are all
  equal gets 0.
- ``zscore``: ``(s - mean) / std`` per query (population std); std 0 gives 0.
- ``rrf``: reciprocal-rank fusion, each component turned into ``1 / (60 + rank)``
  per query (rank 1 = highest score; tied scores share the best rank).

A fusion is a dict, stored as ``fusion`` in a model folder's ``rankwright.json``::

    {"method": "minmax", "weights": {"reranker": 0.7, "first_stage": 0.3},
     "dense_model": None, "fitted_on": "...", "validation": {...}}

:func:`fit_fusion` chooses method and weights by a small deterministic grid search
maximising validation nDCG@10 (``rankwright fuse``), and reports every candidate,
including each component alone, so one sees whether fusion beats each component.
Ties go to the simplest candidate (the reranker alone first). A component with
weight > 0 is required: :func:`fuse` raises a ValueError naming it and saying how to
pass it, rather than silently ranking by the others.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rankwright.data.records import DOC_ID, QUERY_ID, SCORE
from rankwright.evaluation.ranking import RankingConfig, evaluate_run
from rankwright.inference.config import METHODS

log = logging.getLogger(__name__)

COMPONENTS = ("reranker", "biencoder", "first_stage", "dense", "popularity")
NORMALISATIONS = ("minmax", "zscore", "rank")
RRF_K = 60
METRIC = "ndcg@10"

HOW_TO_PASS = {
    "reranker": "it is the model's own score (pass it as components['reranker'])",
    "first_stage": (
        "pass first_stage_scores=[...] (one per document) to Reranker.score()/rank(), "
        "or --run <first-stage TREC run> to `rankwright rerank`, whose scores are used"
    ),
    "dense": "the fusion must name a sentence-embedding model in dense_model, which computes it",
    "biencoder": "the fusion must name a fine-tuned bi-encoder folder in biencoder_model, which computes it",
    "popularity": (
        "it is log(1 + the item's training interactions), chosen by `rankwright pairs` on validation users; "
        "combine it with the model's score (fused=False) as that command does"
    ),
}

#: The fusion key that names the model computing a component (components without one
#: are passed in by the caller).
MODEL_KEYS = {"dense": "dense_model", "biencoder": "biencoder_model"}


def normalise(scores: Sequence[float] | np.ndarray, query_ids: Sequence[Any], method: str) -> np.ndarray:
    """``scores`` normalised within each query (``query_ids``, one per score):
    ``minmax``, ``zscore`` or ``rank`` (the RRF term ``1 / (60 + rank)``)."""
    if method not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {method!r}")
    values = pd.Series(np.asarray(scores, dtype=np.float64))
    keys = np.asarray(query_ids, dtype=object)
    if len(keys) != len(values):
        raise ValueError(f"{len(values)} scores but {len(keys)} query ids")
    if not len(values):
        return np.zeros(0, dtype=np.float64)
    groups = values.groupby(keys, sort=False)
    if method == "minmax":
        low, high = groups.transform("min"), groups.transform("max")
        span = (high - low).to_numpy()
        safe = np.where(span > 0, span, 1.0)
        return np.where(span > 0, (values.to_numpy() - low.to_numpy()) / safe, 0.0)
    if method == "zscore":
        mean = groups.transform("mean")
        centred = values - mean
        std = np.sqrt((centred**2).groupby(keys, sort=False).transform("mean").to_numpy())
        # a constant query's mean can differ from its values by rounding: treat a tiny std as 0
        constant = std <= 1e-12 * np.maximum(1.0, np.abs(mean.to_numpy()))
        return np.where(constant, 0.0, centred.to_numpy() / np.where(constant, 1.0, std))
    ranks = groups.rank(method="min", ascending=False).to_numpy()
    return 1.0 / (RRF_K + ranks)


def validate_fusion(fusion: Mapping[str, Any]) -> None:
    """Raise a ValueError if ``fusion`` is not a usable fusion dict."""
    if fusion.get("method") not in METHODS:
        raise ValueError(f"fusion method must be one of {METHODS}, got {fusion.get('method')!r}")
    weights = fusion.get("weights")
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError("fusion needs weights, e.g. {'reranker': 0.7, 'first_stage': 0.3}")
    unknown = sorted(set(weights) - set(COMPONENTS))
    if unknown:
        raise ValueError(f"fusion weights name unknown component(s) {unknown}; known: {list(COMPONENTS)}")
    if any(float(w) < 0 for w in weights.values()) or not any(float(w) > 0 for w in weights.values()):
        raise ValueError(f"fusion weights must be >= 0 with at least one > 0, got {dict(weights)}")


def required_components(fusion: Mapping[str, Any]) -> list[str]:
    """The components a fusion weights above 0, in :data:`COMPONENTS` order."""
    weights = fusion.get("weights") or {}
    return [c for c in COMPONENTS if float(weights.get(c, 0.0)) > 0]


def missing_message(fusion: Mapping[str, Any], name: str) -> str:
    return (
        f"this model's score fusion ({fusion.get('method')}, weights {dict(fusion.get('weights') or {})}) "
        f"needs {name} scores (weight {float(fusion['weights'][name]):g}) but none were given: {HOW_TO_PASS[name]}"
    )


def fuse(components: Mapping[str, Any], query_ids: Sequence[Any], fusion: Mapping[str, Any]) -> np.ndarray:
    """The fused score of each candidate: the weighted sum of its per-query normalised
    components (``rrf``: of their reciprocal-rank terms). Every component with weight
    > 0 must be in ``components`` (one score per candidate, no NaN)."""
    validate_fusion(fusion)
    n = len(query_ids)
    norm = "rank" if fusion["method"] == "rrf" else fusion["method"]
    out = np.zeros(n, dtype=np.float64)
    for name in required_components(fusion):
        if name not in components or components[name] is None:
            raise ValueError(missing_message(fusion, name))
        values = np.asarray(components[name], dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(f"{name} scores have shape {values.shape}; one per candidate ({n}) is needed")
        if np.isnan(values).any():
            raise ValueError(
                f"{int(np.isnan(values).sum())} of {n} candidates have no {name} score (NaN); "
                f"fusion needs one for every candidate"
            )
        out += float(fusion["weights"][name]) * normalise(values, query_ids, norm)
    return out


def _weight_grid(available: list[str], grid: int) -> list[dict[str, float]]:
    """Every weight vector over ``available`` whose weights are multiples of 1/grid
    summing to 1, simplest first: one component (reranker first), then two, ...;
    within a size, more weight on the earlier component first."""
    vectors = []
    for parts in itertools.product(range(grid + 1), repeat=len(available)):
        if sum(parts) == grid:
            vectors.append({c: round(p / grid, 10) for c, p in zip(available, parts, strict=True)})
    return sorted(vectors, key=lambda w: (sum(v > 0 for v in w.values()), [-v for v in w.values()]))


def _label(method: str | None, weights: Mapping[str, float]) -> str:
    used = {c: w for c, w in weights.items() if w > 0}
    if len(used) == 1:
        return f"{next(iter(used))} alone"
    return f"{method}: " + " + ".join(f"{w:g} {c}" for c, w in used.items())


def _candidates(
    components: Mapping[str, Any], methods: Sequence[str], grid: int | Sequence[Mapping[str, float]]
) -> tuple[list[str], list[tuple[str | None, dict[str, float]]]]:
    """The components given and the candidate fusions, simplest first: each component
    alone (no method), then every weight vector of more than one component with each method."""
    available = [c for c in COMPONENTS if c in components and components[c] is not None]
    unknown = sorted(set(components) - set(COMPONENTS))
    if unknown or not available:
        raise ValueError(f"components must be some of {list(COMPONENTS)}, got {sorted(components)}")
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ValueError(f"methods must be some of {METHODS}, got {list(methods)}")
    if isinstance(grid, int):
        if grid < 1:
            raise ValueError(f"grid must be >= 1 weight steps, got {grid}")
        vectors = _weight_grid(available, grid)
    else:
        vectors = [{c: float(w.get(c, 0.0)) for c in available} for w in grid]
    singles = [{c: float(c == name) for c in available} for name in available]
    candidates: list[tuple[str | None, dict[str, float]]] = [(None, w) for w in singles]
    for w in vectors:
        if sum(v > 0 for v in w.values()) > 1:
            candidates.extend((m, w) for m in methods)
    return available, candidates


def fit_fusion(
    components: Mapping[str, Any],
    query_ids: Sequence[Any],
    doc_ids: Sequence[Any],
    qrels: pd.DataFrame,
    relevant_gain: int,
    methods: Sequence[str] = METHODS,
    grid: int | Sequence[Mapping[str, float]] = 10,
    *,
    dense_model: str | None = None,
    biencoder_model: str | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Choose the fusion of ``components`` (name -> one score per candidate) that
    maximises mean nDCG@10 against ``qrels`` (query_id, doc_id, gain).

    ``grid`` is the number of weight steps (10: weights 0, 0.1, ..., 1 summing to 1
    over the given components) or an explicit list of weight dicts. Each component
    alone is a candidate too (method-free: a per-query normalisation keeps its order).
    The best candidate wins; ties (within 1e-9) go to the simplest, listed first: the
    reranker alone, the other components alone, then fusions of two, three, ...

    Returns ``(fusion, table)``: the chosen fusion dict (method, weights, dense_model,
    validation) and one row per candidate (candidate, method, one weight column per
    component, ndcg@10, chosen)."""
    available, candidates = _candidates(components, methods, grid)
    base = pd.DataFrame({QUERY_ID: np.asarray(query_ids, dtype=object), DOC_ID: np.asarray(doc_ids, dtype=object)})
    metrics = RankingConfig(ndcg_at=[10], precision_at=[], recall_at=[])
    rows = []
    for method, weights in candidates:
        fusion = {"method": method or methods[0], "weights": weights}
        scores = fuse(components, base[QUERY_ID].tolist(), fusion)
        per_query = evaluate_run(base.assign(**{SCORE: scores}), qrels, relevant_gain, metrics).per_query
        value = float(per_query[METRIC].mean())
        rows.append({"candidate": _label(method, weights), "method": method, **weights, METRIC: value})
    table = pd.DataFrame(rows)
    best_value = table[METRIC].max()
    best = int(np.flatnonzero(table[METRIC].to_numpy() >= best_value - 1e-9)[0])
    table["chosen"] = np.arange(len(table)) == best
    method, weights = candidates[best]
    alone = {c: float(table.loc[i, METRIC]) for i, c in enumerate(available)}
    fusion = {
        "method": method or methods[0],
        "weights": dict(weights),
        "dense_model": dense_model,
        **({"biencoder_model": biencoder_model} if biencoder_model else {}),
        "validation": {"metric": METRIC, "chosen": float(table.loc[best, METRIC]), "alone": alone},
    }
    log.info("fusion: %s, validation %s %.4f (alone: %s)", table.loc[best, "candidate"], METRIC, best_value, alone)
    return fusion, table
