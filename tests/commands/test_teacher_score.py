"""``rankwright teacher-score`` writes query and document ids beside the texts, so they
survive a round trip through the grouped reader, and says what the pos/neg layout cannot
hold: which labels were binarised into pos and neg, and how many judgments on documents
without text were not written."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from rankwright.cli import main as cli
from rankwright.data.readers import DataConfig, read_relevance
from rankwright.data.readers.grouped import read_grouped

GRADED = ["--labels.scheme", "graded", "--labels.relevant_gain", "2"]


def _teacher_score(data, model, out, caplog, *labels: str) -> list[dict]:
    argv = ["teacher-score", "--model", model, "--data.path", str(data), *labels]
    with caplog.at_level(logging.INFO, logger="rankwright"):
        assert cli([*argv, "--output", str(out), "--progress", "false"]) == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_query_and_document_ids_survive_a_round_trip(tmp_path, write_pointwise, tiny_cross_encoder, caplog):
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=4)
    out = tmp_path / "teacher.jsonl"
    records = _teacher_score(data, tiny_cross_encoder, out, caplog, *GRADED)
    assert [r["query_id"] for r in records] == ["q0", "q1", "q2", "q3"]
    # FlagEmbedding's layout as it is (lists of texts), the ids in parallel lists
    assert all(isinstance(t, str) for r in records for t in r["pos"] + r["neg"])
    assert records[0]["pos_ids"] == ["q0d0"] and records[0]["neg_ids"] == ["q0d1", "q0d2", "q0d3", "q0d4"]
    original = read_relevance(DataConfig(path=str(data))).pairs
    back = read_grouped(out)
    assert back.format == "grouped:flag" and back.report.rows_dropped == 0
    key = ["query_id", "doc_id"]
    merged = original.merge(back.pairs, on=key, suffixes=("", "_back"), validate="one_to_one")
    assert len(merged) == len(original) == len(back.pairs) == 20
    assert (merged["query"] == merged["query_back"]).all() and (merged["doc"] == merged["doc_back"]).all()
    assert (merged["label_back"] == (merged["label"] >= 2).astype(int)).all()
    assert back.pairs["score"].notna().all()
    assert "had no query id" not in caplog.text  # the ids are read, not hashed from the texts


def test_the_log_says_which_grades_were_binarised(tmp_path, write_pointwise, tiny_cross_encoder, caplog):
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=4)
    _teacher_score(data, tiny_cross_encoder, tmp_path / "teacher.jsonl", caplog, *GRADED)
    assert (
        "labels binarised by the label scheme: pos <- label 2: 4 pairs; neg <- label 0: 12 pairs, label 1: 4 pairs"
        in (caplog.text)
    )


def test_binary_labels_are_written_without_a_binarisation_note(tmp_path, write_pointwise, tiny_cross_encoder, caplog):
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=4, graded=False)
    records = _teacher_score(data, tiny_cross_encoder, tmp_path / "teacher.jsonl", caplog)
    assert all(len(r["pos"]) == 1 and len(r["neg"]) == 4 for r in records)
    assert "binarised" not in caplog.text


def test_judgments_on_documents_without_text_are_counted_as_not_written(
    tmp_path, write_beir, tiny_cross_encoder, caplog
):
    docs = {"d1": "red lamp", "d2": "blue lamp shade", "d3": "green sofa", "d4": "", "d5": ""}
    queries = {"q1": "red lamp", "q2": "sofa"}
    judged = [("q1", "d1", 1), ("q1", "d2", 0), ("q1", "d4", 1), ("q2", "d3", 1), ("q2", "d5", 1), ("q2", "d4", 0)]
    folder = write_beir(tmp_path / "beir", docs, queries, judged)
    records = _teacher_score(folder, tiny_cross_encoder, tmp_path / "teacher.jsonl", caplog)
    written = {(r["query_id"], d) for r in records for d in r["pos_ids"] + r["neg_ids"]}
    assert written == {("q1", "d1"), ("q1", "d2"), ("q2", "d3")}
    assert "teacher-score: 3 judgment(s) on documents without text kept for evaluation only" in caplog.text
    assert "are not written: a document without text cannot be scored" in caplog.text


@pytest.mark.parametrize(
    ("labels", "relevant", "expected"),
    [
        ([1, 0, 1], [True, False, True], None),
        ([1.0, 0.0], [True, False], None),
        ([2, 1, 0, 2], [True, False, False, True], {"pos": {"2": 2}, "neg": {"1": 1, "0": 1}}),
        ([1, 0], [False, False], {"pos": {}, "neg": {"1": 1, "0": 1}}),  # a threshold above 1
        (["E", "S", "I"], [True, True, False], {"pos": {"E": 1, "S": 1}, "neg": {"I": 1}}),
    ],
)
def test_binarised_labels(labels, relevant, expected):
    from rankwright.commands.teacher_score import binarised_labels

    assert binarised_labels(pd.Series(labels), np.array(relevant)) == expected
