"""paired_comparison on hand-made per-query tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ttest_rel

from rankwright.evaluation.significance import format_comparison, paired_comparison


def table(values: dict[str, float], metric: str = "ndcg@10") -> pd.DataFrame:
    frame = pd.DataFrame({metric: list(values.values()), "map": [v / 2 for v in values.values()]})
    frame.index = pd.Index(list(values), name="query_id")
    return frame


def test_wins_ties_losses_and_means():
    a = table({"q1": 0.5, "q2": 0.8, "q3": 0.3, "q4": 1.0, "q5": 0.2})
    b = table({"q1": 0.4, "q2": 0.8, "q3": 0.6, "q4": 0.5, "q5": 0.2})
    c = paired_comparison(a, b, "ndcg@10")
    assert c["metric"] == "ndcg@10" and c["queries"] == 5
    assert (c["wins"], c["ties"], c["losses"]) == (2, 2, 1)
    assert c["mean_a"] == pytest.approx(0.56)
    assert c["mean_b"] == pytest.approx(0.5)
    assert c["mean_difference"] == pytest.approx((0.1 + 0 - 0.3 + 0.5 + 0) / 5)
    assert c["t_test_p"] == pytest.approx(ttest_rel([0.5, 0.8, 0.3, 1.0, 0.2], [0.4, 0.8, 0.6, 0.5, 0.2]).pvalue)
    # The other way round: wins and losses swap, the difference flips, p stays.
    r = paired_comparison(b, a, "ndcg@10")
    assert (r["wins"], r["ties"], r["losses"]) == (1, 2, 2)
    assert r["mean_difference"] == pytest.approx(-c["mean_difference"])
    assert r["t_test_p"] == pytest.approx(c["t_test_p"])
    assert r["randomisation_p"] == pytest.approx(c["randomisation_p"])


def test_another_metric_column():
    a = table({"q1": 0.5, "q2": 0.8, "q3": 0.4})
    b = table({"q1": 0.1, "q2": 0.9, "q3": 0.4})
    c = paired_comparison(a, b, "map")
    assert c["metric"] == "map" and c["mean_difference"] == pytest.approx((0.2 - 0.05 + 0) / 3)
    assert c["t_test_p"] == pytest.approx(ttest_rel([0.25, 0.4, 0.2], [0.05, 0.45, 0.2]).pvalue)


def test_queries_are_paired_by_id_not_by_position():
    a = table({"q1": 1.0, "q2": 0.0, "q3": 0.5})
    b = table({"q3": 0.5, "q1": 1.0, "q2": 0.0})  # same values, another order
    c = paired_comparison(a, b)
    assert (c["wins"], c["ties"], c["losses"]) == (0, 3, 0)
    assert c["mean_difference"] == 0.0 and c["t_test_p"] == 1.0 and c["randomisation_p"] == 1.0


def test_only_the_shared_queries_unless_told():
    a = table({"q1": 0.9, "q2": 0.7, "q3": 0.2, "q4": 0.6})
    b = table({"q2": 0.5, "q3": 0.4, "q4": 0.1, "q9": 0.0})
    c = paired_comparison(a, b)
    assert c["queries"] == 3 and (c["wins"], c["ties"], c["losses"]) == (2, 0, 1)
    assert c["mean_difference"] == pytest.approx((0.2 - 0.2 + 0.5) / 3)
    assert c["t_test_p"] == pytest.approx(ttest_rel([0.7, 0.2, 0.6], [0.5, 0.4, 0.1]).pvalue)
    restricted = paired_comparison(a, b, queries=pd.Index(["q2", "q4"]))
    assert restricted["queries"] == 2 and restricted["mean_difference"] == pytest.approx(0.35)


def test_identical_systems_have_p_one():
    values = {f"q{i}": v for i, v in enumerate(np.linspace(0, 1, 12))}
    c = paired_comparison(table(values), table(values))
    assert (c["wins"], c["ties"], c["losses"]) == (0, 12, 0)
    assert c["mean_difference"] == 0.0
    assert c["t_test_p"] == 1.0 and c["randomisation_p"] == 1.0


def test_a_clear_difference_agrees_with_the_t_test():
    rng = np.random.default_rng(0)
    n = 40
    b_values = rng.uniform(0.2, 0.6, n)
    a_values = b_values + rng.normal(0.08, 0.1, n)
    a = table({f"q{i}": v for i, v in enumerate(a_values)})
    b = table({f"q{i}": v for i, v in enumerate(b_values)})
    c = paired_comparison(a, b, rounds=20_000, seed=1)
    t_p = ttest_rel(a_values, b_values).pvalue
    assert c["t_test_p"] == pytest.approx(t_p, rel=1e-9)
    assert t_p < 1e-3
    # The randomisation p is bounded below by 1 / (rounds + 1) and close to the t-test's.
    assert 1 / 20_001 <= c["randomisation_p"] < 2e-3
    assert c["wins"] > c["losses"] and c["mean_difference"] > 0.05


def test_a_moderate_difference_randomisation_p_is_close_to_the_t_test():
    rng = np.random.default_rng(3)
    n = 30
    b_values = rng.uniform(0, 1, n)
    diff = rng.normal(0.05, 0.15, n)
    a = table({f"q{i}": v for i, v in enumerate(b_values + diff)})
    b = table({f"q{i}": v for i, v in enumerate(b_values)})
    c = paired_comparison(a, b, rounds=20_000)
    t_p = ttest_rel(b_values + diff, b_values).pvalue
    assert 0.01 < t_p < 0.5  # a case where the two tests should agree well
    assert c["randomisation_p"] == pytest.approx(t_p, abs=0.03)
    # Reproducible with the same seed, different (Monte Carlo) with another.
    assert paired_comparison(a, b, rounds=20_000)["randomisation_p"] == c["randomisation_p"]
    assert paired_comparison(a, b, rounds=20_000, seed=5)["randomisation_p"] != c["randomisation_p"]


def test_randomisation_p_by_enumeration_on_a_tiny_case():
    # Differences 0.1, 0.2, 0.3 (mean 0.2): of the 8 sign patterns only +++ and --- reach
    # |mean| >= 0.2 (the next largest, -++, gives 0.4 / 3), so the exact p is 2/8.
    a = table({"q1": 0.1, "q2": 0.2, "q3": 0.3})
    b = table({"q1": 0.0, "q2": 0.0, "q3": 0.0})
    c = paired_comparison(a, b, rounds=40_000, seed=2)
    assert c["randomisation_p"] == pytest.approx(0.25, abs=0.01)


def test_fewer_than_two_queries():
    one = paired_comparison(table({"q1": 0.9}), table({"q1": 0.4}))
    assert one["queries"] == 1 and one["wins"] == 1 and one["mean_difference"] == pytest.approx(0.5)
    assert one["t_test_p"] == 1.0 and one["randomisation_p"] == 1.0
    none = paired_comparison(table({"q1": 0.9}), table({"q2": 0.4}))
    assert none["queries"] == 0 and none["wins"] == none["ties"] == none["losses"] == 0
    assert all(math.isnan(none[k]) for k in ("mean_a", "mean_b", "mean_difference", "t_test_p", "randomisation_p"))


def test_format_comparison():
    c = paired_comparison(table({"q1": 0.5, "q2": 0.9, "q3": 0.4}), table({"q1": 0.4, "q2": 0.6, "q3": 0.4}))
    text = format_comparison("model", "bm25", c)
    assert text.startswith("model vs bm25 (ndcg@10, 3 queries): +0.1333, wins/ties/losses 2/1/0")
    assert f"paired t-test p {c['t_test_p']:.4f}" in text and f"randomisation p {c['randomisation_p']:.4f}" in text
