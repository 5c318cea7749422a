"""The user context: a text made from the user's other liked items and their most
frequent genres, built from a pool of interactions the caller has already cut down
(leave-one-out and, for a time split, nothing at or after the held-out item)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from rankwright.interactions.items import Catalog
from rankwright.interactions.sections import ORDERS, PLACEHOLDERS, ContextConfig  # noqa: F401 (re-exported)


def context_order(items: np.ndarray, ratings: np.ndarray, times: np.ndarray, order: str) -> np.ndarray:
    """Positions of the pool in context order: highest rating then latest (``rating``)
    or latest then highest rating (``recent``); catalog order breaks remaining ties."""
    if order == "recent":
        return np.lexsort((items, -ratings, -times))
    return np.lexsort((items, -times, -ratings))


def top_genres(genres: list[tuple[str, ...]], n: int) -> list[str]:
    """The ``n`` most frequent genres, ties broken by name."""
    counts = Counter(g for item_genres in genres for g in item_genres)
    return [g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def build_context(
    items: np.ndarray, ratings: np.ndarray, times: np.ndarray, catalog: Catalog, config: ContextConfig
) -> tuple[str, list[str]]:
    """(context text, ids of the items named in it) from a pool of catalog rows.

    The genres are counted over the whole pool, the items named are the first
    ``max_items`` in ``config.order``."""
    chosen = items[context_order(items, ratings, times, config.order)[: config.max_items]]
    titles = [catalog.titles[i] for i in chosen]
    genres = top_genres([catalog.genres[i] for i in items], config.max_genres)
    text = config.template.format(
        items=config.item_separator.join(titles) or config.empty,
        genres=", ".join(genres) or config.empty,
    )
    return text, [catalog.ids[i] for i in chosen]
