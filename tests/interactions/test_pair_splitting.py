"""Splitting users: a function of (seed, user id) with shares close to the ratios."""

from __future__ import annotations

from collections import Counter

import pytest

from rankwright.interactions.splitting import PairSplitConfig, time_holdout, user_split


def test_user_split_is_deterministic_and_follows_the_ratios():
    users = [f"user{i}" for i in range(20_000)]
    first = [user_split(7, u, [0.8, 0.1, 0.1]) for u in users]
    assert first == [user_split(7, u, [0.8, 0.1, 0.1]) for u in users]
    shares = Counter(first)
    assert abs(shares["train"] / len(users) - 0.8) < 0.01
    assert abs(shares["test"] / len(users) - 0.1) < 0.01
    assert first != [user_split(8, u, [0.8, 0.1, 0.1]) for u in users]


def test_a_zero_share_gets_no_user():
    assert {user_split(0, str(i), [0.5, 0.0, 0.5]) for i in range(2000)} == {"train", "test"}
    assert {user_split(0, str(i), [1, 0, 0]) for i in range(100)} == {"train"}


def test_time_holdout_positions():
    assert time_holdout(5, True) == {"test": 4, "val": 3}
    assert time_holdout(5, False) == {"test": 4}
    assert time_holdout(1, True) == {"test": 0}


def test_split_configs_are_checked():
    with pytest.raises(ValueError, match=r"needs interactions\.timestamp"):
        PairSplitConfig(by="time").check(has_timestamps=False)
    with pytest.raises(ValueError, match=r"split\.by"):
        PairSplitConfig(by="row").check(has_timestamps=True)
    with pytest.raises(ValueError, match=r"split\.ratios"):
        PairSplitConfig(ratios=[1, 0]).check(has_timestamps=True)
