"""Per-user MAP/nDCG (trec_eval conventions), ROC-AUC/AP, baselines, scored-pair files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from rankwright.data.records import DataError
from rankwright.interactions.evaluation import (
    evaluate_scores,
    format_results,
    popularity_scores,
    random_result,
    read_scores,
)


def pairs() -> pd.DataFrame:
    """Two users; u1 has two groups (two positives), u2 one."""
    rows = [
        ("u1", "u1:a", "a", 1),
        ("u1", "u1:a", "x", 0),
        ("u1", "u1:a", "y", 0),
        ("u1", "u1:b", "b", 1),
        ("u1", "u1:b", "z", 0),
        ("u2", "u2:c", "c", 1),
        ("u2", "u2:c", "a", 0),
        ("u2", "u2:c", "w", 0),
    ]
    return pd.DataFrame(rows, columns=["user_id", "query_id", "doc_id", "label"])


def test_perfect_and_reversed_scores():
    p = pairs()
    perfect = evaluate_scores(p, p["label"].to_numpy() + 0.0)
    assert perfect["map"] == perfect["ndcg@10"] == perfect["roc_auc"] == perfect["average_precision"] == 1.0
    assert perfect["n_units"] == 2 and perfect["n_pairs"] == 8 and perfect["n_positive"] == 3
    reversed_ = evaluate_scores(p, -p["label"].to_numpy() + 0.0)
    assert reversed_["roc_auc"] == 0.0
    # u1: positives at ranks 4 and 5 of 5 -> AP (1/4 + 2/5) / 2; u2: rank 3 of 3 -> 1/3
    assert reversed_["map"] == pytest.approx(((1 / 4 + 2 / 5) / 2 + 1 / 3) / 2)


def test_map_is_sklearns_per_user_average_precision_without_ties():
    p = pairs()
    scores = np.array([0.9, 0.95, 0.1, 0.5, 0.6, 0.3, 0.2, 0.8])
    result = evaluate_scores(p, scores)
    per_user = [average_precision_score(g["label"], scores[g.index]) for _, g in p.groupby("user_id")]
    assert result["map"] == pytest.approx(np.mean(per_user))
    assert result["roc_auc"] == pytest.approx(roc_auc_score(p["label"], scores))
    by_query = evaluate_scores(p, scores, unit="query")
    assert by_query["n_units"] == 3 and by_query["unit"] == "query"


def test_ties_follow_trec_eval_not_the_average():
    # one user, the positive "b" tied with negative "a": trec_eval orders ties by doc id descending,
    # so "b" ranks first (nDCG@1 = 1); scikit-learn's ndcg_score would average the tie to 0.5
    p = pd.DataFrame({"user_id": "u", "query_id": "u:b", "doc_id": ["a", "b"], "label": [0, 1]})
    assert evaluate_scores(p, np.array([1.0, 1.0]))["ndcg@1"] == 1.0
    flipped = p.assign(doc_id=["c", "b"])
    assert evaluate_scores(flipped, np.array([1.0, 1.0]))["ndcg@1"] == 0.0


def test_popularity_and_random_baselines():
    p = pairs()
    popularity = pd.Series({"a": 50, "b": 40, "c": 30, "x": 1})
    scores = popularity_scores(p, popularity)
    assert scores.tolist() == [50, 1, 0, 40, 0, 30, 50, 0]
    random = random_result(p, unit="user", ranking=None, repeats=20, seed=0)
    assert random["repeats"] == 20 and 0.2 < random["roc_auc"] < 0.8
    assert random_result(p, unit="user", ranking=None, repeats=3, seed=0) == random_result(
        p, unit="user", ranking=None, repeats=3, seed=0
    )
    table = format_results({"popularity": evaluate_scores(p, scores), "random": random}, [1, 10])
    assert table.splitlines()[0].split() == ["system", "MAP", "MRR", "nDCG@1", "nDCG@10", "ROC-AUC", "AP"]
    assert table.splitlines()[1].startswith("popularity")


def test_scored_pair_files(tmp_path):
    p = pairs()
    path = tmp_path / "scores.csv"
    frame = p[["query_id", "doc_id"]].assign(score=np.arange(8.0))
    frame.sample(frac=1, random_state=0).to_csv(path, index=False)  # order does not matter
    assert read_scores(path, p).tolist() == list(np.arange(8.0))
    frame.iloc[:-1].to_csv(path, index=False)
    with pytest.raises(DataError, match=r"scores.csv: 1 pairs have no score, e.g. query_id 'u2:c', doc 'w'"):
        read_scores(path, p)
    frame.rename(columns={"score": "value"}).to_csv(path, index=False)
    with pytest.raises(DataError, match="needs columns"):
        read_scores(path, p)
    pd.concat([frame, frame.iloc[[2]].assign(score=99.0)]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"scores.csv, row 9: query_id u\S+ and document \S+ are scored more than once"):
        read_scores(path, p)  # the last score used to win silently
