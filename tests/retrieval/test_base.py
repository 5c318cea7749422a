"""top_k_rows (exact top-k, trec_eval tie order) and the Retriever base class."""

from __future__ import annotations

import numpy as np
import pytest

from rankwright.retrieval.base import Retriever, top_k_rows
from rankwright.retrieval.bm25 import BM25


class FixedRetriever(Retriever):
    """Scores given per query, so that retrieve() can be checked against a reference."""

    name = "fixed"

    def __init__(self, documents, scores):
        super().__init__(documents)
        self.scores = scores

    def iter_scores(self, queries, *, progress=True, k=None):
        for qid in queries:
            yield qid, self.scores[qid]


def _reference(scores: np.ndarray, tie_rank: np.ndarray, k: int) -> np.ndarray:
    """Full sort: score descending, then tie rank descending."""
    return np.lexsort((-tie_rank, -scores))[:k]


@pytest.mark.parametrize("seed", range(5))
def test_top_k_rows_equals_a_full_sort_with_many_ties_at_the_cut(seed):
    rng = np.random.default_rng(seed)
    n = 200
    scores = rng.integers(0, 6, size=n).astype(np.float32)  # ~33 rows per score: ties everywhere
    tie_rank = rng.permutation(n)
    for k in (1, 2, 5, 17, 33, 34, 50, 99, 100, 150, 199, 200, 250):
        got = top_k_rows(scores, tie_rank, k)
        expected = _reference(scores, tie_rank, k)
        assert got.tolist() == expected.tolist(), k
        assert len(got) == min(k, n)
        # Best first; equal scores by tie rank descending.
        pairs = list(zip(-scores[got], -tie_rank[got], strict=True))
        assert pairs == sorted(pairs)


def test_top_k_rows_cut_inside_a_tie_keeps_the_largest_tie_ranks():
    scores = np.array([1.0, 3.0, 2.0, 2.0, 2.0, 0.0])
    tie_rank = np.array([5, 0, 1, 4, 2, 3])
    # 3 is best; then the 2.0 rows by tie rank descending: row 3 (4), row 4 (2), row 2 (1).
    assert top_k_rows(scores, tie_rank, 3).tolist() == [1, 3, 4]
    assert top_k_rows(scores, tie_rank, 4).tolist() == [1, 3, 4, 2]
    assert top_k_rows(scores, tie_rank, 0).tolist() == []
    assert top_k_rows(scores, tie_rank, -1).tolist() == []
    assert top_k_rows(scores, tie_rank, 10).tolist() == [1, 3, 4, 2, 0, 5]


def test_retrieve_orders_ties_by_doc_id_descending_as_strings():
    # "9" > "10" > "1" as strings (trec_eval compares doc ids with strcmp).
    ids = ["10", "9", "1", "b", "a", "c"]
    documents = {d: f"text {d}" for d in ids}
    scores = {"q": np.array([1.0, 1.0, 1.0, 2.0, 2.0, 0.5], dtype=np.float32)}
    run = FixedRetriever(documents, scores).retrieve({"q": "query"}, top_k=4, progress=False)
    assert run["doc_id"].tolist() == ["b", "a", "9", "10"]
    assert run["score"].tolist() == [2.0, 2.0, 1.0, 1.0]
    assert run["query_id"].tolist() == ["q"] * 4


def test_retrieve_matches_a_full_sort_over_doc_ids():
    rng = np.random.default_rng(7)
    ids = [f"d{i}" for i in rng.permutation(300)]
    documents = {d: d for d in ids}
    scores = {f"q{j}": rng.integers(0, 4, size=300).astype(np.float32) for j in range(3)}
    run = FixedRetriever(documents, scores).retrieve({q: q for q in scores}, top_k=40, progress=False)
    assert run.groupby("query_id").size().to_dict() == {"q0": 40, "q1": 40, "q2": 40}
    for qid, s in scores.items():
        expected = sorted(zip(s.tolist(), ids, strict=True), key=lambda t: (t[0], t[1]), reverse=True)[:40]
        got = run[run["query_id"] == qid]
        assert list(zip(got["score"], got["doc_id"], strict=True)) == expected


def test_retrieve_with_no_queries_is_an_empty_frame():
    run = FixedRetriever({"a": "x"}, {}).retrieve({}, progress=False)
    assert run.empty and list(run.columns) == ["query_id", "doc_id", "score"]


def test_an_empty_corpus_raises():
    with pytest.raises(ValueError, match="corpus is empty"):
        FixedRetriever({}, {})
    with pytest.raises(ValueError, match="BM25: the corpus is empty"):
        BM25({}, progress=False)


def test_rows_of_maps_ids_and_names_an_unknown_one():
    retriever = FixedRetriever({"a": "x", "b": "y", "c": "z"}, {})
    assert retriever.rows_of(["c", "a", "c"]).tolist() == [2, 0, 2]
    assert retriever.rows_of([]).tolist() == []
    with pytest.raises(KeyError, match="'nope' is not in the fixed index"):
        retriever.rows_of(["a", "nope", "b"])
    assert retriever.describe() == {"n_documents": 3}


def test_base_iter_scores_is_abstract():
    with pytest.raises(NotImplementedError):
        next(iter(Retriever({"a": "x"}).iter_scores({"q": "x"})))
