"""Ranking metrics (evaluate_run, RankingResult, random_baseline) against values worked
out by hand with trec_eval's conventions: linear gain, log2 discount, score ties
broken by doc_id in descending string order, the nDCG ideal from every judged gain
of the query, a binary relevance threshold on the gain for MAP/MRR/P/R, unjudged
documents non-relevant, P@k over k, judged queries missing from the run scored 0."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from rankwright.evaluation.ranking import RankingConfig, evaluate_run, random_baseline

METRICS = ["ndcg@1", "ndcg@2", "ndcg@10", "ndcg", "map", "mrr"]
METRICS += ["p@1", "p@2", "p@5", "recall@1", "recall@2", "recall@10"]
CONFIG = RankingConfig(ndcg_at=[1, 2, 10], precision_at=[1, 2, 5], recall_at=[1, 2, 10])


def qrels(*rows):
    return pd.DataFrame(rows, columns=["query_id", "doc_id", "gain"])


def run(*rows):
    return pd.DataFrame(rows, columns=["query_id", "doc_id", "score"])


def dcg(gains):
    """DCG = sum gain_i / log2(i + 1), ranks from 1."""
    return sum(g / math.log2(i + 1) for i, g in enumerate(gains, start=1))


def row(result, query_id):
    return result.per_query.loc[query_id]


# -- (a) score ties broken by doc_id, descending string order ---------------------------------


def test_tie_broken_by_doc_id_descending():
    # "b" (gain 0) and "a" (gain 2) tie at 1.0: "b" > "a", so "b" is ranked first.
    q = qrels(("q1", "a", 2), ("q1", "b", 0), ("q1", "c", 1))
    r = run(("q1", "a", 1.0), ("q1", "b", 1.0), ("q1", "c", 0.5))
    result = evaluate_run(r, q, relevant_gain=1, config=CONFIG)
    got = row(result, "q1")
    expected_ndcg = (0 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)) / (2 / math.log2(2) + 1 / math.log2(3))
    assert got["ndcg"] == pytest.approx(expected_ndcg, abs=1e-12)
    assert got["ndcg@10"] == pytest.approx(expected_ndcg, abs=1e-12)
    # ndcg@1: the top document has gain 0.
    assert got["ndcg@1"] == pytest.approx(0.0, abs=1e-12)
    # ndcg@2: (0 + 2/log2 3) / (2 + 1/log2 3) (the ideal is cut at 2 too).
    assert got["ndcg@2"] == pytest.approx((2 / math.log2(3)) / (2 + 1 / math.log2(3)), abs=1e-12)
    # rel=1: "a" (rank 2) and "c" (rank 3) relevant.
    assert got["map"] == pytest.approx((1 / 2 + 2 / 3) / 2, abs=1e-12)
    assert got["mrr"] == pytest.approx(1 / 2, abs=1e-12)
    assert got["p@1"] == pytest.approx(0.0, abs=1e-12)


def test_tie_order_does_not_depend_on_run_row_order():
    q = qrels(("q1", "a", 2), ("q1", "b", 0), ("q1", "c", 1))
    forward = run(("q1", "a", 1.0), ("q1", "b", 1.0), ("q1", "c", 0.5))
    backward = forward.iloc[::-1].reset_index(drop=True)
    a = evaluate_run(forward, q, 1, CONFIG).per_query.loc["q1", METRICS]
    b = evaluate_run(backward, q, 1, CONFIG).per_query.loc["q1", METRICS]
    expected_ndcg = dcg([0, 2, 1]) / dcg([2, 1, 0])
    assert a["ndcg"] == pytest.approx(expected_ndcg, abs=1e-12)
    assert b["ndcg"] == pytest.approx(expected_ndcg, abs=1e-12)
    assert b["map"] == pytest.approx((1 / 2 + 2 / 3) / 2, abs=1e-12)


def test_tie_uses_string_not_numeric_order_of_doc_ids():
    # "9" > "10" as strings (numerically 10 > 9): "9" (gain 0) comes first.
    q = qrels(("q", "10", 1), ("q", "9", 0))
    r = run(("q", "10", 3.0), ("q", "9", 3.0))
    got = row(evaluate_run(r, q, 1, CONFIG), "q")
    assert got["mrr"] == pytest.approx(1 / 2, abs=1e-12)
    assert got["map"] == pytest.approx(1 / 2, abs=1e-12)
    assert got["ndcg"] == pytest.approx((0 / math.log2(2) + 1 / math.log2(3)) / 1, abs=1e-12)


def test_integer_ids_match_string_ids():
    # qrels with integer ids, run with the same ids as strings: they are the same documents.
    q = pd.DataFrame({"query_id": [7, 7], "doc_id": [101, 102], "gain": [0, 1]})
    r = run(("7", "101", 2.0), ("7", "102", 1.0))
    result = evaluate_run(r, q, 1, CONFIG)
    assert list(result.per_query.index) == ["7"]
    assert result.missing_run_queries == 0
    assert result.dropped_run_queries == 0
    assert row(result, "7")["mrr"] == pytest.approx(1 / 2, abs=1e-12)


# -- (b) graded gains and the relevance threshold ---------------------------------------------


GRADED_Q = qrels(("g", "d1", 1), ("g", "d2", 0), ("g", "d3", 3), ("g", "d4", 2))
GRADED_RUN = run(("g", "d1", 0.9), ("g", "d2", 0.8), ("g", "d3", 0.7), ("g", "d4", 0.6))  # gains 1, 0, 3, 2


def test_graded_gains_relevant_gain_1():
    got = row(evaluate_run(GRADED_RUN, GRADED_Q, 1, CONFIG), "g")
    # Relevant (gain >= 1) at ranks 1, 3, 4 of 3 relevant.
    assert got["map"] == pytest.approx((1 / 1 + 2 / 3 + 3 / 4) / 3, abs=1e-12)
    assert got["mrr"] == pytest.approx(1.0, abs=1e-12)
    assert got["p@2"] == pytest.approx(1 / 2, abs=1e-12)
    assert got["recall@2"] == pytest.approx(1 / 3, abs=1e-12)
    assert got["n_relevant"] == 3
    assert bool(got["informative"]) is True


def test_graded_gains_relevant_gain_2():
    got = row(evaluate_run(GRADED_RUN, GRADED_Q, 2, CONFIG), "g")
    # Relevant (gain >= 2) at ranks 3 and 4 of 2 relevant.
    assert got["map"] == pytest.approx((1 / 3 + 2 / 4) / 2, abs=1e-12)
    assert got["mrr"] == pytest.approx(1 / 3, abs=1e-12)
    assert got["p@2"] == pytest.approx(0.0, abs=1e-12)
    assert got["recall@2"] == pytest.approx(0.0, abs=1e-12)
    assert got["recall@10"] == pytest.approx(1.0, abs=1e-12)
    assert got["n_relevant"] == 2
    assert got["n_judged"] == 4


@pytest.mark.parametrize("relevant_gain", [1, 2, 3])
def test_ndcg_uses_gains_not_the_threshold(relevant_gain):
    got = row(evaluate_run(GRADED_RUN, GRADED_Q, relevant_gain, CONFIG), "g")
    expected = (1 / math.log2(2) + 0 / math.log2(3) + 3 / math.log2(4) + 2 / math.log2(5)) / (
        3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    )
    assert got["ndcg"] == pytest.approx(expected, abs=1e-12)
    assert got["ndcg@1"] == pytest.approx(1 / 3, abs=1e-12)


def test_ndcg_ideal_includes_judged_documents_missing_from_the_run():
    # d3 (gain 3) is judged but not ranked: it still sets the ideal.
    q = qrels(("q", "d1", 1), ("q", "d2", 0), ("q", "d3", 3))
    r = run(("q", "d1", 2.0), ("q", "d2", 1.0))
    got = row(evaluate_run(r, q, 1, CONFIG), "q")
    assert got["ndcg"] == pytest.approx((1 / math.log2(2)) / (3 / math.log2(2) + 1 / math.log2(3)), abs=1e-12)
    # AP divides by every relevant document, ranked or not: (1/1) / 2.
    assert got["map"] == pytest.approx(1 / 2, abs=1e-12)


def test_unjudged_documents_are_non_relevant():
    q = qrels(("q", "d1", 1), ("q", "d2", 0))
    r = run(("q", "unjudged", 5.0), ("q", "d1", 4.0), ("q", "d2", 3.0))
    got = row(evaluate_run(r, q, 1, CONFIG), "q")
    assert got["mrr"] == pytest.approx(1 / 2, abs=1e-12)
    assert got["p@1"] == pytest.approx(0.0, abs=1e-12)
    assert got["ndcg"] == pytest.approx((1 / math.log2(3)) / 1, abs=1e-12)


def test_negative_gains_are_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        evaluate_run(run(("q", "d", 1.0)), qrels(("q", "d", -1)), 1, CONFIG)


# -- (c) a query without relevant documents -----------------------------------------------------


def test_query_with_all_gains_zero_scores_zero_and_is_not_informative():
    q = qrels(("z", "x1", 0), ("z", "x2", 0), ("z", "x3", 0), ("g", "d1", 1), ("g", "d2", 0))
    r = run(("z", "x1", 3.0), ("z", "x2", 2.0), ("z", "x3", 1.0), ("g", "d1", 2.0), ("g", "d2", 1.0))
    result = evaluate_run(r, q, 1, CONFIG)
    got = row(result, "z")
    for metric in METRICS:
        assert got[metric] == 0.0, metric
    assert got["n_judged"] == 3
    assert got["n_relevant"] == 0
    assert bool(got["informative"]) is False
    summary = result.summary()
    assert summary["all"]["n_queries"] == 2
    assert summary["informative"]["n_queries"] == 1
    # "g" is perfect (1.0); "z" pulls the mean over all queries down to 1/2.
    assert summary["all"]["ndcg"] == pytest.approx((1.0 + 0.0) / 2, abs=1e-12)
    assert summary["informative"]["ndcg"] == pytest.approx(1.0, abs=1e-12)
    assert summary["all"]["map"] == pytest.approx(1 / 2, abs=1e-12)


def test_query_below_the_threshold_has_ndcg_but_no_ap():
    # Gains 1 and 0 with relevant_gain 2: nothing relevant, but nDCG still counts gains.
    q = qrels(("b", "d1", 0), ("b", "d2", 1))
    r = run(("b", "d1", 2.0), ("b", "d2", 1.0))
    got = row(evaluate_run(r, q, 2, CONFIG), "b")
    assert got["ndcg"] == pytest.approx((1 / math.log2(3)) / 1, abs=1e-12)
    assert got["map"] == 0.0
    assert got["mrr"] == 0.0
    assert got["p@2"] == 0.0
    assert got["recall@10"] == 0.0
    assert got["n_relevant"] == 0
    assert bool(got["informative"]) is False


# -- (d), (e) queries missing from the run, run queries without judgments ----------------------


def test_judged_query_missing_from_run_scores_zero():
    q = qrels(("g", "d1", 1), ("g", "d2", 0), ("m", "e1", 2), ("m", "e2", 0))
    r = run(("g", "d1", 2.0), ("g", "d2", 1.0))
    result = evaluate_run(r, q, 1, CONFIG)
    assert result.missing_run_queries == 1
    assert result.dropped_run_queries == 0
    got = row(result, "m")
    for metric in METRICS:
        assert got[metric] == 0.0, metric
    assert got["n_judged"] == 2
    assert got["n_relevant"] == 1
    assert bool(got["informative"]) is True  # judged with 1 of 2 relevant: informative, scored 0
    summary = result.summary()
    assert summary["judged_queries_missing_from_run_scored_0"] == 1
    assert summary["all"]["n_queries"] == 2
    assert summary["informative"]["n_queries"] == 2
    assert summary["all"]["mrr"] == pytest.approx((1.0 + 0.0) / 2, abs=1e-12)


def test_run_queries_without_judgments_are_dropped():
    q = qrels(("g", "d1", 1), ("g", "d2", 0))
    r = run(
        ("g", "d1", 1.0),
        ("g", "d2", 2.0),
        ("x", "d1", 1.0),
        ("x", "d2", 2.0),
        ("y", "d9", 1.0),
    )
    result = evaluate_run(r, q, 1, CONFIG)
    assert result.dropped_run_queries == 2  # queries, not rows
    assert result.missing_run_queries == 0
    assert list(result.per_query.index) == ["g"]
    assert "x" not in result.per_query.index
    assert result.summary()["run_queries_without_judgments_dropped"] == 2
    assert row(result, "g")["mrr"] == pytest.approx(1 / 2, abs=1e-12)


# -- (f) cut-off metrics -----------------------------------------------------------------------


def test_precision_at_k_divides_by_k_with_fewer_documents_ranked():
    q = qrels(("q", "d1", 1), ("q", "d2", 0))
    r = run(("q", "d1", 2.0), ("q", "d2", 1.0))
    got = row(evaluate_run(r, q, 1, CONFIG), "q")
    assert got["p@1"] == pytest.approx(1 / 1, abs=1e-12)
    assert got["p@2"] == pytest.approx(1 / 2, abs=1e-12)
    assert got["p@5"] == pytest.approx(1 / 5, abs=1e-12)


def test_recall_at_k_over_all_relevant_documents():
    # Three relevant documents; r3 is never ranked.
    q = qrels(("q", "r1", 1), ("q", "r2", 2), ("q", "r3", 1), ("q", "n1", 0))
    r = run(("q", "n1", 4.0), ("q", "r1", 3.0), ("q", "r2", 2.0))
    got = row(evaluate_run(r, q, 1, CONFIG), "q")
    assert got["recall@1"] == pytest.approx(0 / 3, abs=1e-12)
    assert got["recall@2"] == pytest.approx(1 / 3, abs=1e-12)
    assert got["recall@10"] == pytest.approx(2 / 3, abs=1e-12)
    assert got["map"] == pytest.approx((1 / 2 + 2 / 3) / 3, abs=1e-12)
    assert got["p@5"] == pytest.approx(2 / 5, abs=1e-12)
    got2 = row(evaluate_run(r, q, 2, CONFIG), "q")  # only r2 relevant
    assert got2["recall@2"] == pytest.approx(0.0, abs=1e-12)
    assert got2["recall@10"] == pytest.approx(1.0, abs=1e-12)
    assert got2["mrr"] == pytest.approx(1 / 3, abs=1e-12)


def test_default_config_metric_names():
    q = qrels(("q", "d1", 1), ("q", "d2", 0))
    result = evaluate_run(run(("q", "d1", 2.0), ("q", "d2", 1.0)), q, 1)
    assert result.metrics == [
        "ndcg@1",
        "ndcg@3",
        "ndcg@5",
        "ndcg@10",
        "ndcg",
        "map",
        "mrr",
        "p@1",
        "p@5",
        "p@10",
        "recall@10",
        "recall@100",
    ]
    assert row(result, "q")["p@10"] == pytest.approx(1 / 10, abs=1e-12)


# -- (g) means over all and over informative queries -------------------------------------------


def test_means_over_all_and_informative_queries():
    q = qrels(
        # A: informative, gains 2/1/0 with a tie.
        ("A", "a", 2),
        ("A", "b", 0),
        ("A", "c", 1),
        # B: informative, graded.
        ("B", "d1", 1),
        ("B", "d2", 0),
        ("B", "d3", 3),
        ("B", "d4", 2),
        # Z: no relevant document.
        ("Z", "z1", 0),
        ("Z", "z2", 0),
        # R: every judged document relevant -> not informative, but perfect.
        ("R", "r1", 1),
        # M: judged, missing from the run -> 0, informative.
        ("M", "m1", 2),
        ("M", "m2", 0),
    )
    r = run(
        ("A", "a", 1.0),
        ("A", "b", 1.0),
        ("A", "c", 0.5),
        ("B", "d1", 0.9),
        ("B", "d2", 0.8),
        ("B", "d3", 0.7),
        ("B", "d4", 0.6),
        ("Z", "z1", 1.0),
        ("Z", "z2", 0.0),
        ("R", "r1", 1.0),
        ("X", "x", 1.0),  # not judged: dropped
    )
    result = evaluate_run(r, q, 2, CONFIG)
    ndcg_a = dcg([0, 2, 1]) / dcg([2, 1, 0])
    ndcg_b = dcg([1, 0, 3, 2]) / dcg([3, 2, 1, 0])
    # relevant_gain 2: A has only "a" (rank 2); B has d3, d4 (ranks 3, 4); R's r1 (gain 1) is not relevant.
    ap = {"A": 1 / 2, "B": (1 / 3 + 2 / 4) / 2, "Z": 0.0, "R": 0.0, "M": 0.0}
    rr = {"A": 1 / 2, "B": 1 / 3, "Z": 0.0, "R": 0.0, "M": 0.0}
    ndcg = {"A": ndcg_a, "B": ndcg_b, "Z": 0.0, "R": 1.0, "M": 0.0}
    pq = result.per_query
    assert sorted(pq.index) == ["A", "B", "M", "R", "Z"]
    assert pq["informative"].to_dict() == {"A": True, "B": True, "Z": False, "R": False, "M": True}
    assert pq["n_relevant"].to_dict() == {"A": 1, "B": 2, "Z": 0, "R": 0, "M": 1}
    assert pq["n_judged"].to_dict() == {"A": 3, "B": 4, "Z": 2, "R": 1, "M": 2}
    for qid in ap:
        assert pq.loc[qid, "map"] == pytest.approx(ap[qid], abs=1e-12), qid
        assert pq.loc[qid, "mrr"] == pytest.approx(rr[qid], abs=1e-12), qid
        assert pq.loc[qid, "ndcg"] == pytest.approx(ndcg[qid], abs=1e-12), qid

    summary = result.summary()
    assert summary["all"]["n_queries"] == 5
    assert summary["informative"]["n_queries"] == 3  # A, B, M
    assert summary["run_queries_without_judgments_dropped"] == 1
    assert summary["judged_queries_missing_from_run_scored_0"] == 1
    assert summary["all"]["map"] == pytest.approx(sum(ap.values()) / 5, abs=1e-12)
    assert summary["all"]["ndcg"] == pytest.approx(sum(ndcg.values()) / 5, abs=1e-12)
    assert summary["informative"]["map"] == pytest.approx((ap["A"] + ap["B"] + 0.0) / 3, abs=1e-12)
    assert summary["informative"]["mrr"] == pytest.approx((rr["A"] + rr["B"] + 0.0) / 3, abs=1e-12)
    assert summary["informative"]["ndcg"] == pytest.approx((ndcg_a + ndcg_b + 0.0) / 3, abs=1e-12)
    assert result.mean("all")["mrr"] == pytest.approx(sum(rr.values()) / 5, abs=1e-12)


def test_informative_mean_is_nan_without_informative_queries():
    q = qrels(("Z", "z1", 0), ("Z", "z2", 0))
    result = evaluate_run(run(("Z", "z1", 1.0)), q, 1, CONFIG)
    summary = result.summary()
    assert summary["informative"]["n_queries"] == 0
    assert math.isnan(summary["informative"]["ndcg"])
    assert summary["all"]["ndcg"] == 0.0


# -- random_baseline ----------------------------------------------------------------------------


def candidates(*pairs):
    return pd.DataFrame(pairs, columns=["query_id", "doc_id"])


def test_random_baseline_single_candidate_is_deterministic():
    # One candidate (gain 1) of two relevant judged documents: every shuffle is the same ranking.
    q = qrels(("q", "d1", 1), ("q", "d2", 1), ("q", "d3", 0))
    result = random_baseline(candidates(("q", "d1")), q, 1, CONFIG, repeats=5, seed=3)
    got = row(result, "q")
    assert got["map"] == pytest.approx((1 / 1) / 2, abs=1e-12)
    assert got["mrr"] == pytest.approx(1.0, abs=1e-12)
    assert got["p@1"] == pytest.approx(1.0, abs=1e-12)
    assert got["p@5"] == pytest.approx(1 / 5, abs=1e-12)
    assert got["recall@10"] == pytest.approx(1 / 2, abs=1e-12)
    assert got["ndcg"] == pytest.approx(1 / (1 + 1 / math.log2(3)), abs=1e-12)


def test_random_baseline_averages_over_shuffles():
    # Two candidates, one relevant: RR is 1 or 1/2 with equal chance -> expected 3/4.
    q = qrels(("q", "rel", 1), ("q", "non", 0))
    result = random_baseline(candidates(("q", "rel"), ("q", "non")), q, 1, CONFIG, repeats=200, seed=0)
    got = row(result, "q")
    assert got["mrr"] == pytest.approx(0.75, abs=0.06)
    assert 0.5 < got["mrr"] < 1.0  # a mean over both orders, not one of them
    assert got["map"] == pytest.approx(0.75, abs=0.06)
    assert got["p@1"] == pytest.approx(0.5, abs=0.12)
    expected_ndcg = 0.5 * 1.0 + 0.5 * (1 / math.log2(3))
    assert got["ndcg"] == pytest.approx(expected_ndcg, abs=0.04)
    assert got["p@2"] == pytest.approx(1 / 2, abs=1e-12)  # the same in every order
    assert got["recall@10"] == pytest.approx(1.0, abs=1e-12)


def test_random_baseline_is_seeded_and_keeps_counts():
    q = qrels(("q", "a", 1), ("q", "b", 0), ("q", "c", 0), ("m", "x", 1))
    cands = candidates(("q", "a"), ("q", "b"), ("q", "c"), ("extra", "e"))
    one = random_baseline(cands, q, 1, CONFIG, repeats=7, seed=11)
    two = random_baseline(cands, q, 1, CONFIG, repeats=7, seed=11)
    pd.testing.assert_frame_equal(one.per_query, two.per_query)
    assert one.dropped_run_queries == 1
    assert one.missing_run_queries == 1
    assert row(one, "m")["mrr"] == 0.0
    # Each shuffle gives RR 1, 1/2 or 1/3; their mean lies between.
    assert 1 / 3 <= row(one, "q")["mrr"] <= 1.0
    assert row(one, "q")["recall@10"] == pytest.approx(1.0, abs=1e-12)
