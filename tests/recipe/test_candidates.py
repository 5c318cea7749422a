"""The recipe's candidate lists: corpus retrieval or each query's given candidates,
judged gains (0 when unjudged) and the fusion components."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rankwright.data.labels import LabelConfig, build_scheme
from rankwright.data.readers import DataConfig, read_relevance
from rankwright.recipe.candidates import FirstStage, add_dense, fusion_components, with_gains
from rankwright.retrieval import RetrieverConfig


@pytest.fixture
def pairs(tmp_path, write_pointwise):
    return read_relevance(DataConfig(path=str(write_pointwise(tmp_path / "p.jsonl", n_queries=4))))


def test_without_a_corpus_the_candidates_are_each_querys_own(pairs):
    first = FirstStage.build(RetrieverConfig(top_k=2), pairs, progress=False)
    got = first.candidates(pairs, pairs, progress=False)
    assert not first.over_corpus and len(got) == len(pairs.pairs)  # top_k does not cut given candidates
    assert set(zip(got["query_id"], got["doc_id"], strict=True)) == set(
        zip(pairs.pairs["query_id"], pairs.pairs["doc_id"], strict=True)
    )
    assert got.columns.tolist()[:3] == ["query_id", "doc_id", "first_stage_score"]


def test_without_a_corpus_a_dense_first_stage_is_refused(pairs):
    with pytest.raises(ValueError, match="no corpus to retrieve from"):
        FirstStage.build(RetrieverConfig(kind="dense"), pairs, progress=False)


def test_with_gains_marks_unjudged_candidates_zero(pairs):
    scheme = build_scheme(LabelConfig(scheme="graded", relevant_gain=1))
    extra = pd.DataFrame({"query_id": ["q0"], "doc_id": ["q1d0"], "first_stage_score": [0.5]})
    got = with_gains(
        pd.concat([pairs.pairs[["query_id", "doc_id"]].assign(first_stage_score=1.0), extra]), pairs, scheme
    )
    assert got.loc[got["doc_id"] == "q0d0", "gain"].item() == 2
    assert got.loc[(got["query_id"] == "q0") & (got["doc_id"] == "q1d0"), "gain"].item() == 0


def test_components_leave_out_what_was_not_computed():
    frame = add_dense(pd.DataFrame({"query": ["a"], "doc": ["b"], "first_stage_score": [3.0]}), None)
    got = fusion_components(frame, np.array([0.2]))
    assert sorted(got) == ["first_stage", "reranker"]
    assert sorted(fusion_components(frame.assign(dense_score=[0.7]), None)) == ["dense", "first_stage"]
