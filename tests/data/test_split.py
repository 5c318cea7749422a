"""Query-level splits: no query in two splits, ratios, seeds, normalised texts, leakage."""

from __future__ import annotations

import pandas as pd
import pytest

from rankwright.data.readers.common import normalize_query
from rankwright.data.records import DropReport, RelevanceData
from rankwright.data.split import LeakageError, SplitConfig, assign_splits, check_no_leakage, split_data


def _pairs(n_queries, docs_per_query=3):
    rows = [
        {
            "query_id": f"q{i}",
            "query": f"query number {i}",
            "doc_id": f"d{i}_{j}",
            "doc": f"doc {i} {j}",
            "label": j % 2,
        }
        for i in range(n_queries)
        for j in range(docs_per_query)
    ]
    return pd.DataFrame(rows)


def _data(pairs):
    queries = dict(zip(pairs["query_id"], pairs["query"], strict=True))
    return RelevanceData(pairs, DropReport(source="t", rows_in=len(pairs)), queries=queries)


def test_every_query_in_exactly_one_split():
    pairs = _pairs(50)
    parts = split_data(_data(pairs), SplitConfig())
    assert set(parts) == {"train", "val", "test"}
    assert sum(len(p) for p in parts.values()) == len(pairs)
    owner = {}
    for name, part in parts.items():
        for qid in part.pairs["query_id"]:
            assert owner.setdefault(qid, name) == name
        assert (part.pairs.groupby("query_id").size() == 3).all()
        assert set(part.queries) == set(part.pairs["query_id"])
    assert set(owner) == set(pairs["query_id"])


@pytest.mark.parametrize("n", [20, 37, 101])
def test_ratios_give_exact_unit_counts(n):
    labels = assign_splits(_pairs(n, docs_per_query=2), SplitConfig(ratios=[0.7, 0.15, 0.15]))
    per_query = labels.groupby(_pairs(n, docs_per_query=2)["query_id"]).first().value_counts()
    assert per_query.get("train", 0) == round(n * 0.7)
    assert per_query.get("train", 0) + per_query.get("val", 0) == round(n * 0.85)
    assert per_query.sum() == n


def test_unnormalised_ratios_and_empty_split():
    labels = assign_splits(_pairs(10, 1), SplitConfig(ratios=[8, 2, 0]))
    assert labels.value_counts().to_dict() == {"train": 8, "val": 2}


def test_bad_ratios_are_rejected():
    with pytest.raises(ValueError, match="ratios"):
        assign_splits(_pairs(4), SplitConfig(ratios=[0.8, 0.2]))


def test_same_seed_same_split_different_seed_different():
    pairs = _pairs(40)
    a = assign_splits(pairs, SplitConfig(seed=7))
    b = assign_splits(pairs.copy(), SplitConfig(seed=7))
    c = assign_splits(pairs, SplitConfig(seed=8))
    assert a.equals(b)
    assert not a.equals(c)


def test_split_does_not_depend_on_row_order():
    pairs = _pairs(30)
    shuffled = pairs.sample(frac=1.0, random_state=0)
    a = assign_splits(pairs, SplitConfig()).groupby(pairs["query_id"]).first()
    b = assign_splits(shuffled, SplitConfig()).groupby(shuffled["query_id"]).first()
    assert a.sort_index().equals(b.sort_index())


def test_same_normalised_text_with_different_ids_stays_together():
    rows = []
    for i in range(25):
        rows.append({"query_id": f"a{i}", "query": f"Cheap Flights {i}", "doc_id": f"x{i}", "doc": "x", "label": 1})
        rows.append(
            {"query_id": f"b{i}", "query": f"  cheap   FLIGHTS {i} ", "doc_id": f"y{i}", "doc": "y", "label": 0}
        )
    pairs = pd.DataFrame(rows)
    labels = assign_splits(pairs, SplitConfig(ratios=[0.5, 0.25, 0.25]))
    for i in range(25):
        assert labels[pairs["query_id"] == f"a{i}"].iloc[0] == labels[pairs["query_id"] == f"b{i}"].iloc[0]
    # 25 units, not 50: the cut counts units.
    assert (labels == "train").sum() == 2 * round(25 * 0.5)
    parts = split_data(_data(pairs), SplitConfig(ratios=[0.5, 0.25, 0.25]))
    assert sum(len(p) for p in parts.values()) == 50


def test_check_no_leakage_catches_an_id_in_two_splits():
    pairs = _pairs(6, 1)
    train, test = pairs.iloc[:4], pairs.iloc[4:]
    check_no_leakage({"train": train, "test": test})
    leaked = pd.concat([test, pairs.iloc[[0]].assign(query="a different text")])
    with pytest.raises(LeakageError, match="id q0 is in both the train and the test split"):
        check_no_leakage({"train": train, "test": leaked})


def test_check_no_leakage_catches_a_text_in_two_splits():
    pairs = _pairs(6, 1)
    moved = pairs.iloc[4:].assign(query=["QUERY  number 0", "query number 5"])
    with pytest.raises(LeakageError, match="query text 'query number 0'"):
        check_no_leakage({"train": pairs.iloc[:4], "val": moved})


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("straße lamp", "STRASSE LAMP"),  # case folding, not lower(): ß folds to ss
        ("lamp\u200bshade", "lampshade"),  # zero-width space
        ("\ufeffdesk lamp", "desk lamp"),  # byte order mark / zero-width no-break space
        ("desk\u00adlamp\u2060", "desklamp"),  # soft hyphen, word joiner
        ("e\u200cmail\u200d", "email"),  # zero-width non-joiner, joiner
        ("ＬＥＤ  bulb\t 60w", "led bulb 60W"),  # NFKC full-width letters, collapsed whitespace
        ("ﬁlter ΣΊΣΥΦΟΣ", "filter σίσυφος"),  # NFKC ligature; final sigma folds like sigma
        ("  caf\u0065\u0301  ", "CAFÉ"),  # combining accent composed
    ],
)
def test_normalised_queries_are_equal(a, b):
    assert normalize_query(a) == normalize_query(b)


def test_normalisation_keeps_words_apart():
    assert normalize_query("lamp shade") != normalize_query("lampshade")
    assert normalize_query("\u200b\ufeff \u00ad") == ""


def test_case_folded_and_invisible_variants_stay_in_one_split():
    rows = []
    for i in range(20):
        rows.append({"query_id": f"a{i}", "query": f"straße lamp {i}", "doc_id": f"x{i}", "doc": "x", "label": 1})
        rows.append({"query_id": f"b{i}", "query": f"STRASSE LAMP {i}", "doc_id": f"y{i}", "doc": "y", "label": 0})
        rows.append({"query_id": f"c{i}", "query": f"straße\u200b lamp {i}", "doc_id": f"z{i}", "doc": "z", "label": 0})
    pairs = pd.DataFrame(rows)
    labels = assign_splits(pairs, SplitConfig(ratios=[0.5, 0.25, 0.25]))
    assert labels.groupby(pairs["query_id"].str[1:]).nunique().eq(1).all()
    split_data(_data(pairs), SplitConfig(ratios=[0.5, 0.25, 0.25]))  # no LeakageError


def test_check_no_leakage_catches_a_case_folded_text_in_two_splits():
    train = pd.DataFrame({"query_id": ["q1"], "query": ["straße lamp"]})
    test = pd.DataFrame({"query_id": ["q2"], "query": ["STRASSE\u200b LAMP"]})
    with pytest.raises(LeakageError, match="query text 'strasse lamp' is in both"):
        check_no_leakage({"train": train, "test": test})


def test_queries_without_text_are_split_by_id_alone():
    """A qrels file read alone has empty query texts: they do not tie every query together."""
    pairs = _pairs(40, 2).assign(query="")
    labels = assign_splits(pairs, SplitConfig())
    assert labels.nunique() == 3
    parts = split_data(_data(pairs), SplitConfig())
    assert sum(p.n_queries for p in parts.values()) == 40


def test_split_by_user_column():
    pairs = _pairs(12, 2).assign(user_id=[f"u{i // 6}" for i in range(24)])
    labels = assign_splits(pairs, SplitConfig(by="user_id", ratios=[0.5, 0.5, 0]))
    assert labels.groupby(pairs["user_id"]).nunique().eq(1).all()
    assert labels.nunique() == 2
    with pytest.raises(ValueError, match=r"split\.by='user'"):
        assign_splits(pairs, SplitConfig(by="user"))


def test_fixed_assignment_seed_42():
    # Units are ordered by sha256(f"{seed}\x1f{unit}") with unit "id:<smallest query id of the unit>";
    # for seed 42: q3 < q5 < q6 < q2 < q1 < q4. Six units at 0.7/0.15/0.15 cut at round(4.2)=4
    # and round(5.1)=5. q7 ("Q1 text") shares q1's normalised text, so it is q1's unit.
    ids = ["q1", "q2", "q3", "q4", "q5", "q6", "q7"]
    texts = ["q1 text", "q2 text", "q3 text", "q4 text", "q5 text", "q6 text", " Q1   TEXT"]
    pairs = pd.DataFrame({"query_id": ids, "query": texts, "doc_id": ids, "doc": texts, "label": 1})
    labels = assign_splits(pairs, SplitConfig(seed=42))
    assert dict(zip(ids, labels, strict=True)) == {
        "q1": "val",
        "q2": "train",
        "q3": "train",
        "q4": "test",
        "q5": "train",
        "q6": "train",
        "q7": "val",
    }
