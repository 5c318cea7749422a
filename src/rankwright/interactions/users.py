"""One user's training rows: positives chosen, split, contexts built, negatives drawn.

A user's interactions arrive sorted by (time, catalog row). Repeated items keep their
latest interaction. Positives are the interactions rated at or above the threshold
(all of them for implicit data); users with fewer than ``min_per_user`` are dropped,
at most ``max_per_user`` training positives are kept (a seeded choice). Each positive
is one group: its context (leave-one-out: built from the user's *other* liked items),
the positive item, and its negatives.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from rankwright.interactions.context import ContextConfig, build_context
from rankwright.interactions.items import Catalog
from rankwright.interactions.sampling import HardNegatives, NegativesConfig, sample_items, user_rng
from rankwright.interactions.sections import PositivesConfig
from rankwright.interactions.splitting import PairSplitConfig, time_holdout, user_split

#: Columns of a built row (one (context, item, label) pair).
ROW_COLUMNS = ["user_id", "query_id", "query", "doc_id", "doc", "label", "hard", "split", "context_items", "position"]


@dataclass
class BuildSettings:
    """Everything a worker needs to build any user's rows (pickled once per task)."""

    positives: PositivesConfig
    context: ContextConfig
    negatives: NegativesConfig
    split: PairSplitConfig
    seed: int
    cumulative_weights: np.ndarray | None = None


@dataclass
class UserRows:
    rows: list[dict[str, Any]]
    counts: Counter
    training_items: np.ndarray  # catalog rows counted in the training popularity


@dataclass
class _Group:
    split: str
    positive: int  # position in the user's (deduplicated, time-ordered) interactions
    pool: np.ndarray  # positions the context may use


def deduplicate(items: np.ndarray) -> np.ndarray:
    """Positions kept when an item repeats: its last (latest) interaction."""
    _, last_from_end = np.unique(items[::-1], return_index=True)
    return np.sort(len(items) - 1 - last_from_end)


def _choose(rng: np.random.Generator, positions: np.ndarray, cap: int) -> np.ndarray:
    if cap == 0 or len(positions) <= cap:
        return positions
    return np.sort(rng.choice(positions, size=cap, replace=False))


def plan_groups(
    user: str, liked: np.ndarray, settings: BuildSettings, rng: np.random.Generator, counts: Counter
) -> tuple[list[_Group], int]:
    """The user's groups and the first position excluded from training popularity
    (``len`` of the user's interactions + 1 when nothing is held out)."""
    cap = settings.positives.max_per_user
    if settings.split.by == "time":
        held = time_holdout(len(liked), settings.split.time_validation)
        first_held = min(held.values())
        train = _choose(rng, liked[:first_held], cap)
        counts["positives over the per-user cap"] += first_held - len(train)
        groups = [_Group("train", p, np.setdiff1d(liked[:first_held], [p])) for p in train]
        for name in ("val", "test"):
            if name in held:
                groups.append(_Group(name, liked[held[name]], liked[: held[name]]))
        return groups, int(liked[first_held])
    split = user_split(settings.seed, user, settings.split.ratios)
    chosen = _choose(rng, liked, cap)
    counts["positives over the per-user cap"] += len(liked) - len(chosen)
    groups = [_Group(split, p, np.setdiff1d(liked, [p])) for p in chosen]
    return groups, (np.iinfo(np.int64).max if split == "train" else -1)


def build_user(
    user: str,
    items: np.ndarray,
    ratings: np.ndarray,
    times: np.ndarray,
    catalog: Catalog,
    settings: BuildSettings,
    hard: HardNegatives | None = None,
) -> UserRows:
    """Rows of one user from their interactions (catalog rows, ratings, times), sorted
    by (time, catalog row)."""
    counts: Counter = Counter({"users": 1})
    keep = deduplicate(items)
    counts["repeated interactions (latest kept)"] += len(items) - len(keep)
    items, ratings, times = items[keep], ratings[keep], times[keep]
    threshold = settings.positives.threshold
    liked = np.flatnonzero(ratings >= threshold) if threshold is not None else np.arange(len(items))
    counts["positives"] += len(liked)
    if len(liked) < settings.positives.min_per_user:
        counts["users with too few positives"] += 1
        counts["positives of dropped users"] += len(liked)
        return UserRows([], counts, items)
    counts["users kept"] += 1
    rng = user_rng(settings.seed, user)
    groups, first_held = plan_groups(user, liked, settings, rng, counts)
    excluded = {int(i) for i in items}
    rows: list[dict[str, Any]] = []
    for group in groups:
        rows.extend(_group_rows(user, group, items, ratings, times, catalog, settings, hard, rng, excluded, counts))
    for name in {g.split for g in groups}:
        counts[f"users:{name}"] += 1
    for position, row in enumerate(rows):
        row["position"] = position
    training = items[: max(0, min(first_held, len(items)))] if first_held >= 0 else items[:0]
    return UserRows(rows, counts, training)


def _group_rows(
    user: str,
    group: _Group,
    items: np.ndarray,
    ratings: np.ndarray,
    times: np.ndarray,
    catalog: Catalog,
    settings: BuildSettings,
    hard: HardNegatives | None,
    rng: np.random.Generator,
    excluded: set[int],
    counts: Counter,
) -> list[dict[str, Any]]:
    """The positive row and its negative rows; ``excluded`` grows with every draw, so
    an item is a negative at most once per user."""
    pool = group.pool
    context, context_items = build_context(items[pool], ratings[pool], times[pool], catalog, settings.context)
    positive = int(items[group.positive])
    negatives = settings.negatives
    wanted_random = negatives.per_positive
    if group.split != "train" and negatives.eval_per_positive is not None:
        wanted_random = negatives.eval_per_positive
    hard_rows: list[int] = []
    if hard is not None and negatives.hard_per_positive:
        hard_rows = hard.sample(rng, context, negatives.hard_per_positive, excluded)
        excluded.update(hard_rows)
    random_rows = sample_items(rng, len(catalog), wanted_random, excluded, settings.cumulative_weights)
    excluded.update(random_rows)
    wanted = wanted_random + (negatives.hard_per_positive if hard is not None else 0)
    counts[f"negatives short:{group.split}"] += wanted - len(hard_rows) - len(random_rows)
    counts[f"groups:{group.split}"] += 1
    counts[f"hard negatives:{group.split}"] += len(hard_rows)
    counts[f"random negatives:{group.split}"] += len(random_rows)
    docs = [(positive, 1, 0)] + [(r, 0, 1) for r in hard_rows] + [(r, 0, 0) for r in random_rows]
    counts[f"rows:{group.split}"] += len(docs)
    query_id = f"{user}:{catalog.ids[positive]}"
    return [
        {
            "user_id": user,
            "query_id": query_id,
            "query": context,
            "doc_id": catalog.ids[row],
            "doc": catalog.texts[row],
            "label": label,
            "hard": is_hard,
            "split": group.split,
            "context_items": context_items,
        }
        for row, label, is_hard in docs
    ]
