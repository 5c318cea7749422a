"""Selection on validation queries and the guard rail's words, on hand-made scores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rankwright.recipe.selection import Selection, guard_rail, select, with_retrieval

# 6 queries x 4 candidates; d0 and d1 are relevant (gain 2 and 1)
QIDS = [f"q{q}" for q in range(6) for _ in range(4)]
DIDS = [f"d{d}" for _ in range(6) for d in range(4)]
GAINS = [2, 1, 0, 0] * 6
CANDIDATES = pd.DataFrame({"query_id": QIDS, "doc_id": DIDS})
QRELS = pd.DataFrame({"query_id": QIDS, "doc_id": DIDS, "gain": GAINS})
PERFECT = np.array([4.0, 3.0, 2.0, 1.0] * 6)
REVERSED = PERFECT[::-1].copy()


def test_a_reranker_below_the_first_stage_is_not_selected_and_the_output_says_why():
    s = select(CANDIDATES, {"reranker": REVERSED, "first_stage": PERFECT}, QRELS, 1, "bm25", grid=4)
    assert s.chosen == "first_stage alone" and not s.uses_reranker
    assert s.validation["first_stage"] == 1.0 and s.validation["reranker"] < 0.6
    assert s.messages[0].startswith("WARNING: the fine-tuned reranker's validation ndcg@10")
    assert "first stage (bm25)" in s.messages[0]
    assert s.messages[-1].startswith("selected instead: first stage (bm25) alone")


def test_a_fusion_that_beats_each_component_is_selected_with_the_reranker():
    # each component puts the irrelevant d2 just above the relevant d1 on half of the
    # queries (the reranker on q0-q2, the first stage on q3-q5): only a fusion is right everywhere
    reranker, first = PERFECT.copy(), PERFECT.copy()
    for q in range(3):
        reranker[q * 4 + 1] = 1.9
    for q in range(3, 6):
        first[q * 4 + 2] = 3.1
    s = select(CANDIDATES, {"reranker": reranker, "first_stage": first}, QRELS, 1, "bm25", grid=4)
    assert s.uses_reranker and s.fusion["validation"]["chosen"] > max(
        s.validation["reranker"], s.validation["first_stage"]
    )
    assert not any(m.startswith("WARNING") for m in s.messages)
    assert s.messages[-1].startswith("selected: ")


def test_guard_rail_names_the_dense_rerank_too():
    messages = guard_rail({"reranker": 0.30, "first_stage": 0.28, "dense": 0.41}, "dense alone", 0.41, False, "bm25")
    assert len(messages) == 2
    assert "below the zero-shot dense rerank's (0.4100)" in messages[0]
    assert messages[1].startswith("selected instead: dense rerank alone (validation ndcg@10 0.4100")


def _chosen(value: float) -> Selection:
    fusion = {
        "method": "minmax",
        "weights": {"reranker": 0.5, "dense": 0.5},
        "validation": {"metric": "ndcg@10", "chosen": value, "alone": {"reranker": 0.3, "dense": 0.35}},
    }
    return Selection(fusion, pd.DataFrame(), "minmax: 0.5 reranker + 0.5 dense", ["selected: the fusion"])


def test_a_better_retrieval_replaces_the_first_stage():
    s = with_retrieval(_chosen(0.40), "biencoder_retrieval", "bi-encoder retrieval", 0.45, "/m/bi", "use it so")
    assert s.retrieval == "/m/bi" and s.chosen == "bi-encoder retrieval"
    assert s.uses_biencoder and not s.uses_reranker
    assert s.validation == {"reranker": 0.3, "dense": 0.35, "biencoder_retrieval": 0.45, "selected": 0.45}
    assert s.messages[-1].startswith("selected instead: bi-encoder retrieval") and "use it so" in s.messages[-1]
    assert not any(m == "selected: the fusion" for m in s.messages)


def test_a_retrieval_that_is_not_better_is_reported_and_not_used():
    s = with_retrieval(_chosen(0.40), "biencoder_retrieval", "bi-encoder retrieval", 0.40, "/m/bi", "use it so")
    assert s.retrieval is None and s.chosen == "minmax: 0.5 reranker + 0.5 dense" and s.uses_reranker
    assert s.validation["biencoder_retrieval"] == 0.40 and s.validation["selected"] == 0.40
    assert s.messages[0] == "selected: the fusion" and "not used" in s.messages[-1]
