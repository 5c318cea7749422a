"""The held-out evaluation's runs: one per system, the selected one last, scored as the
selection's fusion says."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rankwright.data.readers import read_run
from rankwright.recipe.heldout import DENSE_ROW, RERANKER_ROW, system_runs, write_runs
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
