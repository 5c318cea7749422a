"""Per-user generators, random and popularity-weighted negatives, BM25 hard negatives."""

from __future__ import annotations

import numpy as np
import pytest

from rankwright.interactions.items import Catalog
from rankwright.interactions.sampling import (
    NegativesConfig,
    cumulative_weights,
    hard_negatives,
    sample_items,
    user_rng,
)
from rankwright.retrieval.bm25 import BM25Config


def test_the_generator_depends_on_seed_and_user_only():
    assert user_rng(1, "u7").random() == user_rng(1, "u7").random()
    assert user_rng(1, "u7").random() != user_rng(1, "u8").random()
    assert user_rng(1, "u7").random() != user_rng(2, "u7").random()


def test_samples_are_distinct_and_never_excluded():
    rng = np.random.default_rng(0)
    excluded = set(range(0, 100, 2))
    for _ in range(50):
        drawn = sample_items(rng, 100, 20, excluded)
        assert len(drawn) == 20 == len(set(drawn)) and not set(drawn) & excluded


def test_when_few_items_remain_the_exact_draw_takes_them_all():
    rng = np.random.default_rng(0)
    excluded = set(range(1000)) - {3, 500, 999}
    assert sorted(sample_items(rng, 1000, 5, excluded)) == [3, 500, 999]


def test_popularity_weighting_prefers_popular_items():
    counts = np.array([1000] + [0] * 99)
    uniform, weighted = np.random.default_rng(0), np.random.default_rng(0)
    cumulative = cumulative_weights(counts, 1.0)
    hits_uniform = sum(0 in sample_items(uniform, 100, 1, set()) for _ in range(500))
    hits_weighted = sum(0 in sample_items(weighted, 100, 1, set(), cumulative) for _ in range(500))
    # weight of item 0: 1001 of 1100 in all -> ~91%; uniform: 1%
    assert hits_weighted > 400 and hits_uniform < 25
    assert cumulative_weights(counts, 0.0) is None


def test_bm25_hard_negatives_share_words_with_the_context():
    catalog = Catalog(
        ids=["a", "b", "c", "d"],
        titles=["Space war", "Space opera", "Cooking", "Gardening"],
        genres=[(), (), (), ()],
        texts=["space war saga", "space opera saga", "cooking with herbs", "gardening tips"],
    )
    index = hard_negatives(catalog, BM25Config(top_k=3))
    assert hard_negatives(catalog, BM25Config(top_k=3)) is index  # built once per process
    # equal scores: ties in trec_eval order (item id descending); items without a shared word are left out
    assert [catalog.ids[r] for r in index.window("a space saga")] == ["b", "a"]
    assert [catalog.ids[r] for r in index.window("war")] == ["a"]
    drawn = index.sample(np.random.default_rng(0), "a space saga", 5, excluded={0})
    assert [catalog.ids[r] for r in drawn] == ["b"]  # the only non-excluded item sharing a word


def test_hard_negatives_use_the_bm25_settings_with_a_window_of_50_and_leave_torch_unloaded():
    import subprocess
    import sys

    assert NegativesConfig().bm25 == BM25Config(top_k=50)
    code = "import sys, rankwright.interactions.pipeline; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_negative_configs_are_checked():
    with pytest.raises(ValueError, match="hard_retriever"):
        NegativesConfig(hard_per_positive=1, hard_retriever="dense").check()
    with pytest.raises(ValueError, match="popularity_alpha"):
        NegativesConfig(popularity_alpha=-1).check()
    NegativesConfig(hard_per_positive=2).check()
