"""The user context: a text made from the user's other liked items and their most
frequent genres, built from a pool of interactions the caller has already cut down
(leave-one-out and, for a time split, nothing at or after the held-out item)."""

from __future__ import annotations

import string
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from rankwright.interactions.items import Catalog

ORDERS = ("rating", "recent")
PLACEHOLDERS = ("items", "genres")


@dataclass
class ContextConfig:
    """How a user's context text is made."""

    template: str = field(
        default="Liked: {items}. Favourite genres: {genres}",
        metadata={"help": "context text with {items} and {genres}"},
    )
    max_items: int = field(default=10, metadata={"help": "liked items named in the context at most"})
    max_genres: int = field(default=3, metadata={"help": "most frequent genres named at most"})
    order: str = field(
        default="rating", metadata={"help": "which liked items come first: rating (highest, then latest)|recent"}
    )
    item_separator: str = field(default="; ", metadata={"help": "joins the item titles"})
    empty: str = field(default="none", metadata={"help": "written for an empty list of items or genres"})

    def check(self) -> None:
        names = {name for _, name, _, _ in string.Formatter().parse(self.template) if name is not None}
        unknown = sorted(names - set(PLACEHOLDERS))
        if unknown:
            raise ValueError(f"context.template: unknown placeholder {{{unknown[0]}}}; use {{items}} and {{genres}}")
        if self.order not in ORDERS:
            raise ValueError(f"context.order must be one of {ORDERS}, got {self.order!r}")
        if self.max_items < 1:
            raise ValueError(f"context.max_items must be at least 1, got {self.max_items}")
        if self.max_genres < 0:
            raise ValueError(f"context.max_genres cannot be negative, got {self.max_genres}")


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
