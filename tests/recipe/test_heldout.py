"""The held-out evaluation's runs: one per system, the selected one last, scored as the
selection's fusion says."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rankwright.data.readers import read_run
from rankwright.recipe.heldout import DENSE_ROW, RERANKER_ROW, ZERO_SHOT_ROW, system_runs, write_runs
from rankwright.recipe.selection import Selection

TEST = pd.DataFrame(
    {
        "query_id": ["q1"] * 3 + ["q2"] * 3,
        "doc_id": ["a", "b", "c", "d", "e", "f"],
        "first_stage_score": [3.0, 2.0, 1.0, 1.0, 2.0, 3.0],
        "dense_score": [0.1, 0.9, 0.5, 0.2, 0.3, 0.1],
    }
)
RERANKER = np.array([0.0, 1.0, 2.0, 5.0, 4.0, 3.0])


def _selection(weights: dict[str, float]) -> Selection:
    chosen = "minmax: fused" if sum(w > 0 for w in weights.values()) > 1 else f"{max(weights, key=weights.get)} alone"
    return Selection({"method": "minmax", "weights": weights}, pd.DataFrame(), chosen, [])


def test_every_system_and_the_selected_one_last():
    runs = system_runs(TEST, RERANKER, _selection({"reranker": 0.0, "first_stage": 0.0, "dense": 1.0}), "bm25")
    assert list(runs) == ["bm25", DENSE_ROW, RERANKER_ROW, "selected: dense alone"]
    assert runs["bm25"]["score"].tolist() == TEST["first_stage_score"].tolist()
    assert runs[RERANKER_ROW]["score"].tolist() == RERANKER.tolist()
    # a component selected alone ranks exactly as that component
    selected = runs["selected: dense alone"]
    for qid, group in selected.groupby("query_id"):
        dense = TEST[TEST["query_id"] == qid]
        assert group.sort_values("score")["doc_id"].tolist() == dense.sort_values("dense_score")["doc_id"].tolist()


def test_a_fusion_is_the_weighted_sum_of_per_query_minmax_scores():
    runs = system_runs(
        TEST.drop(columns="dense_score"), RERANKER, _selection({"reranker": 0.5, "first_stage": 0.5}), "bm25"
    )
    assert list(runs) == ["bm25", RERANKER_ROW, "selected: minmax: fused"]  # no dense score: no dense row
    # q1: reranker minmax [0, .5, 1], first stage [1, .5, 0] -> all 0.5
    assert np.allclose(runs["selected: minmax: fused"]["score"].to_numpy()[:3], 0.5)


def test_runs_are_written_as_trec_files_in_order(tmp_path):
    runs = system_runs(TEST, RERANKER, _selection({"reranker": 1.0}), "bm25")
    triples = write_runs(runs, tmp_path / "runs")
    assert [p.rsplit("/", 1)[1] for _, p, _ in triples] == [
        "0_bm25.trec",
        "1_dense_rerank.trec",
        "2_fine-tuned_reranker.trec",
        "3_selected.trec",
    ]
    assert set(read_run(triples[2][1])["doc_id"]) == set(TEST["doc_id"])


def _table(rows: list[tuple[str, str | None, dict[str, float], float]]) -> pd.DataFrame:
    """fit_fusion's candidate table from (candidate, method, weights, validation nDCG@10)."""
    names = ["reranker", "first_stage", "dense"]
    return pd.DataFrame(
        [{"candidate": c, "method": m, **{n: w.get(n, 0.0) for n in names}, "ndcg@10": v} for c, m, w, v in rows]
    )


def test_the_best_zero_shot_fusion_is_a_row_and_a_baseline():
    table = _table(
        [
            ("reranker alone", None, {"reranker": 1.0}, 0.30),
            ("first_stage alone", None, {"first_stage": 1.0}, 0.20),
            ("dense alone", None, {"dense": 1.0}, 0.25),
            ("minmax: 0.3 first_stage + 0.7 dense", "minmax", {"first_stage": 0.3, "dense": 0.7}, 0.28),
            ("zscore: 0.5 first_stage + 0.5 dense", "zscore", {"first_stage": 0.5, "dense": 0.5}, 0.27),
            ("minmax: 0.5 reranker + 0.5 dense", "minmax", {"reranker": 0.5, "dense": 0.5}, 0.40),
        ]
    )
    selection = Selection({"method": "minmax", "weights": {"reranker": 0.5, "dense": 0.5}}, table, "minmax: x", [])
    zero_shot = selection.zero_shot
    assert zero_shot["weights"] == {"first_stage": 0.3, "dense": 0.7} and zero_shot["method"] == "minmax"
    runs = system_runs(TEST, RERANKER, selection, "bm25")
    assert list(runs) == ["bm25", DENSE_ROW, ZERO_SHOT_ROW, RERANKER_ROW, "selected: minmax: x"]
    # q1: first stage minmax [1, .5, 0], dense minmax [0, 1, .5] -> .3, .85, .35
    assert np.allclose(runs[ZERO_SHOT_ROW]["score"].to_numpy()[:3], [0.3, 0.85, 0.35])


def test_no_zero_shot_row_when_a_component_alone_is_as_good():
    table = _table(
        [
            ("reranker alone", None, {"reranker": 1.0}, 0.30),
            ("first_stage alone", None, {"first_stage": 1.0}, 0.20),
            ("dense alone", None, {"dense": 1.0}, 0.28),
            ("minmax: 0.3 first_stage + 0.7 dense", "minmax", {"first_stage": 0.3, "dense": 0.7}, 0.28),
        ]
    )
    selection = Selection({"method": "minmax", "weights": {"reranker": 1.0}}, table, "reranker alone", [])
    assert selection.zero_shot is None
    assert ZERO_SHOT_ROW not in system_runs(TEST, RERANKER, selection, "bm25")


def test_a_selected_retrieval_is_the_selected_run():
    own = pd.DataFrame({"query_id": ["q1", "q2"], "doc_id": ["z", "y"], "score": [0.9, 0.8]})
    selection = Selection({"method": "minmax", "weights": {"biencoder": 1.0}}, pd.DataFrame(), "retrieval", [])
    selection.retrieval = "/m/bi"
    runs = system_runs(TEST, RERANKER, selection, "bm25", biencoder_scores=RERANKER, retrieval=("retrieval row", own))
    assert list(runs) == [
        "bm25",
        DENSE_ROW,
        RERANKER_ROW,
        "fine-tuned bi-encoder",
        "retrieval row",
        "selected: retrieval",
    ]
    assert runs["selected: retrieval"] is own
