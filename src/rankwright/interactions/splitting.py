"""Splits of interaction pairs, never by row:

- ``user``: every user goes whole to train, val or test, by a SHA-256 of (seed, user
  id) compared with the cumulative ratios, so the assignment needs no global view of
  the users and is the same in every partition (the shares are close to, not exactly,
  the ratios);
- ``time``: every user's last positive interaction (by time, then item id) is that
  user's test item, the one before it (optionally) the validation item, and the
  earlier ones are training positives; contexts never use interactions at or after
  the item they are built for when it is held out (see :mod:`.users`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

SPLIT_BY = ("user", "time")
SPLITS = ("train", "val", "test")


@dataclass
class PairSplitConfig:
    """How users and their positives are split into train, val and test."""

    by: str = field(default="user", metadata={"help": "user (whole users per split)|time (last positive is test)"})
    ratios: list[float] = field(
        default_factory=lambda: [0.8, 0.1, 0.1], metadata={"help": "by user: train, val, test shares of users"}
    )
    time_validation: bool = field(
        default=True, metadata={"help": "by time: each user's second-to-last positive is a validation item"}
    )

    def check(self, has_timestamps: bool) -> None:
        if self.by not in SPLIT_BY:
            raise ValueError(f"split.by must be one of {SPLIT_BY}, got {self.by!r}")
        if len(self.ratios) != 3 or any(r < 0 for r in self.ratios) or sum(self.ratios) <= 0:
            raise ValueError(f"split.ratios must be three non-negative numbers (train, val, test), got {self.ratios}")
        if self.by == "time" and not has_timestamps:
            raise ValueError("split.by time needs interactions.timestamp (a time column)")


def user_split(seed: int, user: str, ratios: list[float]) -> str:
    """train, val or test for ``user``: a function of (seed, user id) alone."""
    digest = hashlib.sha256(f"split\x1f{seed}\x1f{user}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    total = sum(ratios)
    edge = 0.0
    for name, ratio in zip(SPLITS, ratios, strict=True):
        edge += ratio / total
        if u < edge:
            return name
    return next(name for name, ratio in zip(reversed(SPLITS), reversed(ratios), strict=True) if ratio > 0)


def time_holdout(n_liked: int, validation: bool) -> dict[str, int]:
    """Positions (in time order) of a user's held-out liked items: test is the last,
    val (with ``validation``) the one before."""
    held = {"test": n_liked - 1}
    if validation and n_liked >= 2:
        held["val"] = n_liked - 2
    return held
