"""The recipe's first steps: the data and its query split, the first stage, and the
validation and test candidates with their judged gains and zero-shot dense scores; then
the training pairs (mined from the first stage over a corpus, else the given judged pairs)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rankwright.data.loading import LoadedData, load_data
from rankwright.data.records import QUERY_ID, RelevanceData
from rankwright.data.split import draw_queries, split_data
from rankwright.recipe.candidates import FirstStage, add_dense, with_gains
from rankwright.recipe.config import RecipeConfig
from rankwright.recipe.training_data import given_pairs, mined_pairs
from rankwright.retrieval.dense import DenseEncoder

log = logging.getLogger(__name__)


def sample_queries(part: RelevanceData, n: int | None, seed: int) -> RelevanceData:
    """At most ``n`` queries of ``part``, drawn with a generator seeded by ``seed`` (:func:`draw_queries`)."""
    keep = draw_queries(part.pairs[QUERY_ID], n, seed)
    return part if keep is None else part.subset(keep)


@dataclass
class Prepared:
    """The data, split, first stage and scored validation/test candidates."""

    loaded: LoadedData
    parts: dict[str, RelevanceData]
    train: RelevanceData  # the training queries used (train_queries samples them)
    counts: dict[str, int]
    first: FirstStage
    encoder: DenseEncoder | None
    ranked: dict[str, pd.DataFrame]  # val/test candidates with gain and dense_score


def prepare(config: RecipeConfig) -> Prepared:
    loaded = load_data(config)
    parts = split_data(loaded.full, config.split)
    train_part = sample_queries(parts["train"], config.train_queries, config.split.seed)
    counts = {"train": train_part.n_queries, "train_available": parts["train"].n_queries}
    counts |= {name: parts[name].n_queries for name in ("val", "test")}
    log.info("queries: %s", counts)
    encoder = DenseEncoder(config.dense) if config.dense_enabled else None
    first = FirstStage.build(config.retriever, loaded.full, progress=config.progress, encoder=encoder)
    ranked = {}
    for name in ("val", "test"):
        found = first.candidates(parts[name], loaded.full, progress=config.progress)
        ranked[name] = add_dense(with_gains(found, parts[name], loaded.scheme), encoder, progress=config.progress)
    return Prepared(loaded, parts, train_part, counts, first, encoder, ranked)


def training_pairs(config: RecipeConfig, prep: Prepared) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """Mined pairs (a corpus) or the given judged pairs of the training queries, with the
    mining counts (None without mining)."""
    if not prep.first.over_corpus:
        return given_pairs(prep.train, prep.loaded.scheme), None
    pairs, stats = mined_pairs(prep.first, prep.train, prep.loaded.scheme, config.mining, progress=config.progress)
    return pairs, stats.to_dict()
