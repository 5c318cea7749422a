"""One user's rows: positives, caps, leave-one-out contexts, negatives, time holdout."""

from __future__ import annotations

import numpy as np
import pytest

from rankwright.interactions.context import ContextConfig
from rankwright.interactions.items import Catalog
from rankwright.interactions.sampling import NegativesConfig
from rankwright.interactions.splitting import PairSplitConfig
from rankwright.interactions.users import BuildSettings, PositivesConfig, build_user, deduplicate

N = 30


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(
        ids=[f"m{i}" for i in range(N)],
        titles=[f"Movie {i}" for i in range(N)],
        genres=[("Drama",) if i % 2 else ("Comedy",) for i in range(N)],
        texts=[f"Movie {i} text" for i in range(N)],
    )


def settings(by: str = "user", **positives) -> BuildSettings:
    return BuildSettings(
        PositivesConfig(**{"threshold": 4.0, "max_per_user": 3, "min_per_user": 3, **positives}),
        ContextConfig(max_items=10),
        NegativesConfig(per_positive=3),
        PairSplitConfig(by=by, ratios=[1, 0, 0]),
        seed=5,
    )


# A user's interactions in time order: items 0..7, liked (>= 4): items 0, 2, 3, 5, 6, 7
ITEMS = np.array([0, 1, 2, 3, 4, 5, 6, 7])
RATINGS = np.array([5.0, 2.0, 4.0, 5.0, 1.0, 4.0, 4.0, 5.0])
TIMES = np.arange(100, 900, 100)
LIKED = {"m0", "m2", "m3", "m5", "m6", "m7"}


def test_positives_are_capped_and_contexts_leave_the_positive_out(catalog):
    built = build_user("u1", ITEMS, RATINGS, TIMES, catalog, settings())
    positives = [r for r in built.rows if r["label"] == 1]
    assert len(positives) == 3 and {r["doc_id"] for r in positives} <= LIKED
    assert built.counts["positives over the per-user cap"] == 3
    for row in positives:
        assert row["doc_id"] not in row["context_items"]
        assert set(row["context_items"]) == LIKED - {row["doc_id"]}  # all other liked items (cap 10)
    negatives = [r for r in built.rows if r["label"] == 0]
    assert len(negatives) == 9 and len({r["doc_id"] for r in negatives}) == 9  # distinct per user
    interacted = {f"m{i}" for i in ITEMS}
    assert not {r["doc_id"] for r in negatives} & interacted  # never an interacted item, even a disliked one
    assert [r["position"] for r in built.rows] == list(range(12))
    assert {r["split"] for r in built.rows} == {"train"}


def test_the_same_user_gets_the_same_rows(catalog):
    first = build_user("u1", ITEMS, RATINGS, TIMES, catalog, settings()).rows
    assert first == build_user("u1", ITEMS, RATINGS, TIMES, catalog, settings()).rows
    other = build_user("u2", ITEMS, RATINGS, TIMES, catalog, settings()).rows
    assert [r["doc_id"] for r in first] != [r["doc_id"] for r in other]


def test_users_with_too_few_positives_are_dropped(catalog):
    built = build_user("u1", ITEMS, RATINGS, TIMES, catalog, settings(min_per_user=7))
    assert built.rows == [] and built.counts["users with too few positives"] == 1
    assert built.counts["positives of dropped users"] == 6
    implicit = build_user("u1", ITEMS, RATINGS, TIMES, catalog, settings(threshold=None, max_per_user=0))
    assert sum(r["label"] for r in implicit.rows) == 8  # implicit: every interaction, no cap


def test_time_split_holds_out_the_last_positives(catalog):
    built = build_user("u1", ITEMS, RATINGS, TIMES, catalog, settings(by="time", max_per_user=0))
    by_split = {s: [r for r in built.rows if r["split"] == s and r["label"] == 1] for s in ("train", "val", "test")}
    assert [r["doc_id"] for r in by_split["test"]] == ["m7"]  # the last liked
    assert [r["doc_id"] for r in by_split["val"]] == ["m6"]  # the one before
    assert sorted(r["doc_id"] for r in by_split["train"]) == ["m0", "m2", "m3", "m5"]
    assert set(by_split["test"][0]["context_items"]) == {"m0", "m2", "m3", "m5", "m6"}  # liked before m7
    assert set(by_split["val"][0]["context_items"]) == {"m0", "m2", "m3", "m5"}
    for row in built.rows:
        if row["split"] == "train":
            assert not {"m6", "m7"} & set(row["context_items"]) and row["doc_id"] not in {"m6", "m7"}
    # training popularity counts only the interactions before the validation item
    assert sorted(built.training_items.tolist()) == [0, 1, 2, 3, 4, 5]


def test_repeated_items_keep_the_latest_interaction(catalog):
    items, ratings, times = np.array([0, 1, 0]), np.array([5.0, 4.0, 1.0]), np.array([1, 2, 3])
    assert deduplicate(items).tolist() == [1, 2]
    built = build_user("u", items, ratings, times, catalog, settings(min_per_user=1))
    assert built.counts["repeated interactions (latest kept)"] == 1
    assert [r["doc_id"] for r in built.rows if r["label"]] == ["m1"]  # m0's latest rating is 1


def test_eval_groups_can_get_more_negatives(catalog):
    s = settings(by="time", max_per_user=1)
    s.negatives = NegativesConfig(per_positive=2, eval_per_positive=10)
    built = build_user("u1", ITEMS, RATINGS, TIMES, catalog, s)
    assert built.counts["random negatives:train"] == 2 and built.counts["random negatives:test"] == 10
    assert built.counts["random negatives:val"] == 10
    assert len({r["doc_id"] for r in built.rows if r["label"] == 0}) == 22
