"""Popularity as a selection component on interactions data: chosen on validation
users only, applied to test, paired tests against popularity."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rankwright.evaluation.config import RankingConfig
from rankwright.interactions.evaluation import unit_frame
from rankwright.interactions.selection import select_with_popularity

RANKING = RankingConfig(ndcg_at=[10], precision_at=[], recall_at=[])


def split(seed: int, users: int = 40, items: int = 5) -> pd.DataFrame:
    """Each user: one liked item among ``items`` candidates (item ids shared, so popularity varies)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        liked = int(rng.integers(items))
        rows += [(f"u{u}", f"u{u}:q", f"i{i}", int(i == liked)) for i in range(items)]
    return pd.DataFrame(rows, columns=["user_id", "query_id", "doc_id", "label"])


def test_a_model_worse_than_popularity_is_not_shipped_alone():
    val, test = split(0), split(1)
    rng = np.random.default_rng(2)
    # popularity knows the liked item exactly; the model is noise
    pop = {name: frame["label"].to_numpy() * 100.0 + 1 for name, frame in (("val", val), ("test", test))}
    model = {name: rng.normal(size=len(frame)) for name, frame in (("val", val), ("test", test))}
    s = select_with_popularity(
        (val, model["val"], pop["val"]), (test, model["test"], pop["test"]), unit="user", ranking=RANKING
    )
    assert not s["uses_model"] and s["chosen"] == "popularity alone"
    assert s["test"]["ndcg@10"] == 1.0
    assert any(m.startswith("WARNING") and "popularity" in m for m in s["messages"])
    model_vs_pop = s["paired_tests"]["reranker vs popularity"]
    assert model_vs_pop["mean_difference"] < 0 and model_vs_pop["randomisation_p"] < 0.05


def test_a_model_that_adds_to_popularity_is_fused_and_tested_on_test():
    val, test = split(0), split(1)
    rng = np.random.default_rng(3)
    # popularity is informative but noisy, the model too: together they beat each alone
    pop = {n: f["label"].to_numpy() * 2.0 + rng.normal(size=len(f)) + 5 for n, f in (("val", val), ("test", test))}
    model = {n: f["label"].to_numpy() * 2.0 + rng.normal(size=len(f)) for n, f in (("val", val), ("test", test))}
    s = select_with_popularity(
        (val, model["val"], pop["val"]), (test, model["test"], pop["test"]), unit="user", ranking=RANKING
    )
    assert s["uses_model"] and "popularity" in s["chosen"] and "reranker" in s["chosen"]
    assert set(s["validation"]) == {"reranker", "popularity", "selected"}
    assert s["validation"]["selected"] >= max(s["validation"]["reranker"], s["validation"]["popularity"])
    assert s["test"]["n_units"] == 40 and s["paired_tests"]["selected vs popularity"]["queries"] == 40


def test_an_item_repeated_within_a_user_keeps_its_highest_scores():
    pairs = pd.DataFrame(
        {"user_id": ["u", "u", "u"], "doc_id": ["a", "a", "b"], "label": [0, 1, 0]},
    )
    frame = unit_frame(pairs, {"reranker": np.array([0.1, 0.9, 0.5])}, "user")
    assert len(frame) == 2
    a = frame[frame["doc_id"] == "a"].iloc[0]
    assert a["reranker"] == 0.9 and a["gain"] == 1
