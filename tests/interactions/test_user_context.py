"""The user context text: item order, the item cap, genre counts, the template."""

from __future__ import annotations

import numpy as np
import pytest

from rankwright.interactions.context import ContextConfig, build_context, top_genres
from rankwright.interactions.items import Catalog


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(
        ids=["a", "b", "c", "d"],
        titles=["Alpha", "Beta", "Gamma", "Delta"],
        genres=[("Drama",), ("Comedy", "Drama"), ("Comedy",), ("Horror",)],
        texts=["Alpha", "Beta", "Gamma", "Delta"],
    )


def test_rating_order_then_latest_and_the_cap(catalog):
    items, ratings, times = np.array([0, 1, 2, 3]), np.array([4.0, 5.0, 5.0, 3.0]), np.array([1, 2, 3, 4])
    text, named = build_context(items, ratings, times, catalog, ContextConfig(max_items=2, max_genres=2))
    assert named == ["c", "b"]  # both rated 5, the later first
    # genres counted over the whole pool (Drama 2, Comedy 2: tie broken by name), not just the named items
    assert text == "Liked: Gamma; Beta. Favourite genres: Comedy, Drama"


def test_recent_order_and_a_custom_template(catalog):
    items, ratings, times = np.array([0, 1, 3]), np.array([5.0, 4.0, 1.0]), np.array([30, 10, 20])
    config = ContextConfig(template="{items} | {genres}", order="recent", max_genres=1, item_separator=", ")
    text, named = build_context(items, ratings, times, catalog, config)
    assert named == ["a", "d", "b"]
    assert text == "Alpha, Delta, Beta | Drama"


def test_an_empty_pool_writes_the_empty_marker(catalog):
    empty = np.array([], dtype=np.int64)
    text, named = build_context(empty, empty.astype(float), empty, catalog, ContextConfig())
    assert (text, named) == ("Liked: none. Favourite genres: none", [])


def test_top_genres_breaks_ties_by_name():
    assert top_genres([("b", "a"), ("c",), ("b",)], 2) == ["b", "a"]
    assert top_genres([], 3) == []


def test_bad_context_configs_are_refused():
    with pytest.raises(ValueError, match=r"unknown placeholder \{user\}"):
        ContextConfig(template="{user} liked {items}").check()
    with pytest.raises(ValueError, match=r"context\.order"):
        ContextConfig(order="random").check()
    with pytest.raises(ValueError, match="max_items"):
        ContextConfig(max_items=0).check()
