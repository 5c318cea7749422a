"""The leakage check passes built rows and catches each rule broken on purpose."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rankwright.interactions.context import ContextConfig
from rankwright.interactions.items import Catalog
from rankwright.interactions.leakage import CHECKS, LeakageReport, PairLeakageError, check_leakage
from rankwright.interactions.sampling import NegativesConfig
from rankwright.interactions.splitting import PairSplitConfig
from rankwright.interactions.users import ROW_COLUMNS, BuildSettings, PositivesConfig, build_user

N = 20
CATALOG = Catalog(
    ids=[f"m{i}" for i in range(N)],
    titles=[f"T{i}" for i in range(N)],
    genres=[()] * N,
    texts=[f"t{i}" for i in range(N)],
)
# user a: items 0..5 liked in time order; user b: items 6..10 liked
HISTORY = {"a": [0, 1, 2, 3, 4, 5], "b": [6, 7, 8, 9, 10]}


def interactions() -> pd.DataFrame:
    rows = [(u, f"m{i}", 5.0, 100 * k) for u, items in HISTORY.items() for k, i in enumerate(items)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def built_rows(by: str) -> pd.DataFrame:
    settings = BuildSettings(
        PositivesConfig(threshold=4, max_per_user=0, min_per_user=3),
        ContextConfig(),
        NegativesConfig(per_positive=2),
        PairSplitConfig(by=by, ratios=[0.5, 0, 0.5]),
        seed=0,
    )
    rows = []
    for user, items in HISTORY.items():
        n = len(items)
        built = build_user(user, np.array(items), np.full(n, 5.0), np.arange(n) * 100, CATALOG, settings)
        rows.extend(built.rows)
    return pd.DataFrame(rows, columns=ROW_COLUMNS)


@pytest.mark.parametrize("by", ["user", "time"])
def test_built_rows_pass(by):
    report = check_leakage(built_rows(by), interactions(), by)
    assert report.ok and report.users_checked == 2
    assert report.groups_checked == 11  # every liked item is a group (no cap): 6 + 5
    assert set(report.to_dict()["violations"]) == set(CHECKS)
    report.raise_if_leaking()


def _positive(rows: pd.DataFrame, user: str, split: str) -> int:
    return int(rows.index[(rows["user_id"] == user) & (rows["split"] == split) & (rows["label"] == 1)][0])


def test_a_positive_in_its_own_context_is_caught():
    rows = built_rows("user")
    i = _positive(rows, "a", rows.loc[rows["user_id"] == "a", "split"].iloc[0])
    same_group = rows["query_id"] == rows.at[i, "query_id"]
    rows.loc[same_group, "context_items"] = pd.Series(
        [[*rows.at[i, "context_items"], rows.at[i, "doc_id"]]] * int(same_group.sum()), index=rows.index[same_group]
    )
    report = check_leakage(rows, interactions(), "user")
    assert report.violations[CHECKS[0]] == 1
    with pytest.raises(PairLeakageError, match="positive in its own context"):
        report.raise_if_leaking()


def test_a_user_in_two_splits_is_caught():
    rows = built_rows("user")
    first_of_a = rows.index[rows["user_id"] == "a"][0]
    rows.at[first_of_a, "split"] = "val" if rows.at[first_of_a, "split"] != "val" else "train"
    assert check_leakage(rows, interactions(), "user").violations[CHECKS[1]] == 1


def test_time_split_rules_are_caught():
    rows = built_rows("time")
    test_row = _positive(rows, "a", "test")
    test_item = rows.at[test_row, "doc_id"]  # m5, the last
    # 1. the test item also as a negative of a training group
    train_negative = rows.index[(rows["user_id"] == "a") & (rows["split"] == "train") & (rows["label"] == 0)][0]
    leaky = rows.copy()
    leaky.at[train_negative, "doc_id"] = test_item
    assert check_leakage(leaky, interactions(), "time").violations[CHECKS[2]] == 1
    # 2. the test item in a training context (it is also later than the val item: rule 4 fires too)
    leaky = rows.copy()
    train_query = rows.at[train_negative, "query_id"]
    group = leaky["query_id"] == train_query
    context = [*rows.at[train_negative, "context_items"], test_item]
    leaky.loc[group, "context_items"] = pd.Series([context] * int(group.sum()), index=leaky.index[group])
    report = check_leakage(leaky, interactions(), "time")
    assert report.violations[CHECKS[3]] == 1 and report.violations[CHECKS[4]] >= 1
    # 3. a context naming an item the user never interacted with
    leaky.loc[group, "context_items"] = pd.Series([["m19"]] * int(group.sum()), index=leaky.index[group])
    assert check_leakage(leaky, interactions(), "time").violations[CHECKS[5]] == 1


def test_a_context_using_a_later_interaction_is_caught():
    rows = built_rows("time")
    history = interactions()
    # m0 is in every context of user a; make its interaction the latest of all
    history.loc[(history["user_id"] == "a") & (history["item_id"] == "m0"), "timestamp"] = 10_000
    report = check_leakage(rows, history, "time")
    assert report.violations[CHECKS[4]] > 0
    assert "later than" in report.examples[CHECKS[4]][0]


def test_reports_merge_and_round_trip():
    a, b = LeakageReport("time", 1, 2), LeakageReport("time", 3, 4)
    b.add(CHECKS[3], 2, "example")
    a.merge(LeakageReport.from_dict(b.to_dict()))
    assert (a.users_checked, a.groups_checked, a.violations[CHECKS[3]], a.ok) == (4, 6, 2, False)
