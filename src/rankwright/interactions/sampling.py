"""Negatives for a user: items the user never interacted with, drawn by a generator
seeded from (seed, user id) alone, so a user's rows are the same whichever partition,
worker or machine builds them.

Random negatives are uniform over the catalog or weighted by popularity
(``(count + 1) ** popularity_alpha``); hard negatives are drawn from the BM25 top
``bm25.top_k`` items for the context text (the index is built once per process).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import asdict

import numpy as np

from rankwright.interactions.items import Catalog
from rankwright.interactions.sections import HARD_RETRIEVERS, NegativesConfig  # noqa: F401 (re-exported)
from rankwright.retrieval.bm25 import BM25Config

#: Rejection-sampling rounds before falling back to an exact draw over the remaining items.
REJECTION_ROUNDS = 8


def user_rng(seed: int, user: str) -> np.random.Generator:
    """A generator that depends only on (seed, user id): never on partition order."""
    digest = hashlib.sha256(f"{seed}\x1f{user}".encode()).digest()
    words = [int.from_bytes(digest[i : i + 8], "little") for i in range(0, 32, 8)]
    return np.random.default_rng(words)


def cumulative_weights(counts: np.ndarray, alpha: float) -> np.ndarray | None:
    """Cumulative sampling weights ``(count + 1) ** alpha``; None for uniform."""
    if alpha == 0:
        return None
    return np.cumsum((np.asarray(counts, dtype=np.float64) + 1.0) ** alpha)


def _draw(rng: np.random.Generator, n_items: int, size: int, cumulative: np.ndarray | None) -> np.ndarray:
    if cumulative is None:
        return rng.integers(0, n_items, size=size)
    return np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right")


def sample_items(
    rng: np.random.Generator, n_items: int, m: int, excluded: set[int], cumulative: np.ndarray | None = None
) -> list[int]:
    """Up to ``m`` distinct catalog rows outside ``excluded``, in draw order.

    Draws are made in batches and rejected when excluded or repeated (successive
    sampling without replacement, the same law as a weighted draw without replacement);
    when that does not finish, the rest is drawn exactly from the remaining items."""
    chosen: list[int] = []
    taken = set(excluded)
    for _ in range(REJECTION_ROUNDS):
        if len(chosen) >= m:
            break
        for row in _draw(rng, n_items, 2 * (m - len(chosen)) + 8, cumulative):
            row = int(row)
            if row not in taken:
                taken.add(row)
                chosen.append(row)
                if len(chosen) == m:
                    return chosen
    if len(chosen) < m:
        rest = np.setdiff1d(np.arange(n_items), np.fromiter(taken, dtype=np.int64, count=len(taken)))
        if len(rest):
            weights = None
            if cumulative is not None:
                w = np.diff(cumulative, prepend=0.0)[rest]
                weights = w / w.sum()
            extra = rng.choice(rest, size=min(m - len(chosen), len(rest)), replace=False, p=weights)
            chosen.extend(int(r) for r in extra)
    return chosen


class HardNegatives:
    """BM25 over the catalog's item texts (index row = catalog row)."""

    def __init__(self, catalog: Catalog, config: BM25Config):
        from rankwright.retrieval.bm25 import BM25

        self.config = config
        documents = dict(zip(catalog.ids, catalog.texts, strict=True))
        self.bm25 = BM25(documents, config, progress=False)

    def window(self, query: str) -> np.ndarray:
        """Catalog rows of the BM25 top ``top_k`` items for ``query`` with a score above 0, best first."""
        from rankwright.retrieval.base import top_k_rows

        scores = self.bm25.query_scores(query)
        rows = top_k_rows(scores, self.bm25.tie_rank, self.config.top_k)
        return rows[scores[rows] > 0]

    def sample(self, rng: np.random.Generator, query: str, m: int, excluded: set[int]) -> list[int]:
        """Up to ``m`` distinct rows drawn uniformly from the window, outside ``excluded``."""
        eligible = [int(r) for r in self.window(query) if int(r) not in excluded]
        if not eligible or m <= 0:
            return []
        picks = rng.choice(len(eligible), size=min(m, len(eligible)), replace=False)
        return [eligible[i] for i in picks]


_CACHE: dict[tuple, HardNegatives] = {}
_LOCK = threading.Lock()


def hard_negatives(catalog: Catalog, config: BM25Config) -> HardNegatives:
    """The process's BM25 index for this catalog and configuration (built once per worker)."""
    key = (catalog.fingerprint, tuple(sorted(asdict(config).items())))
    with _LOCK:
        if key not in _CACHE:
            _CACHE.clear()
            _CACHE[key] = HardNegatives(catalog, config)
        return _CACHE[key]
