"""Grouped JSONL (seed-002, SWIFT, FlagEmbedding): one query with its documents per line."""

from __future__ import annotations

import json
import re

import pytest

from rankwright.data.readers import DataConfig, detect_format, read_relevance
from rankwright.data.readers.grouped import read_grouped
from rankwright.data.records import DataError

SEED002 = {
    "query_text": "how do solar panels work",
    "positives": [
        {"doc_id": "p1", "text": "Photovoltaic cells turn light into current."},
        {"doc_id": "p2", "text": "Panels convert sunlight to electricity."},
    ],
    "negatives": [{"doc_id": "n1", "text": "Wind turbines spin in the breeze."}],
    "source_chunk": "chunk-17",
    "meta": {"generator": "llm", "round": 2},
}
SWIFT = {"query": "capital of france", "positive": ["Paris is the capital."], "negative": ["Berlin.", "Rome."]}
FLAG = {
    "query": "best pasta shape",
    "pos": ["Rigatoni holds sauce well."],
    "neg": ["Bread is baked.", "Rice is boiled."],
    "pos_scores": [0.91],
    "neg_scores": [0.12, 0.05],
    "prompt": "Represent this query:",
}


def _jsonl(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def _by_doc(data):
    return data.pairs.set_index("doc")


def test_seed002_positives_negatives_ids_and_meta(tmp_path):
    data = read_relevance(_jsonl(tmp_path / "seed.jsonl", [SEED002]))
    assert data.format == "grouped:seed002"
    pairs = data.pairs.set_index("doc_id")
    assert sorted(pairs.index) == ["n1", "p1", "p2"]
    assert pairs.loc["p1", "label"] == 1 and pairs.loc["p2", "label"] == 1
    assert pairs.loc["n1", "label"] == 0
    assert pairs.loc["p2", "doc"] == "Panels convert sunlight to electricity."
    assert set(pairs["query"]) == {"how do solar panels work"}
    assert data.n_queries == 1
    assert set(pairs["source_chunk"]) == {"chunk-17"}
    assert {json.dumps(json.loads(m), sort_keys=True) for m in pairs["meta"]} == {
        json.dumps(SEED002["meta"], sort_keys=True)
    }
    assert data.report.rows_in == 3 and data.report.rows_dropped == 0
    assert "score" not in data.pairs


def test_seed002_two_lines_are_two_groups(tmp_path):
    other = {**SEED002, "query_text": "what is a heat pump", "source_chunk": "chunk-18"}
    data = read_relevance(_jsonl(tmp_path / "seed.jsonl", [SEED002, other]))
    assert data.n_queries == 2
    assert sorted(data.pairs.groupby("query")["group"].first()) == [1, 2]
    assert (data.pairs.groupby("query")["label"].sum() == 2).all()


def test_swift_layout(tmp_path):
    data = read_relevance(_jsonl(tmp_path / "swift.jsonl", [SWIFT]))
    assert data.format == "grouped:swift"
    labels = _by_doc(data)["label"]
    assert labels.to_dict() == {"Paris is the capital.": 1, "Berlin.": 0, "Rome.": 0}
    assert data.pairs["doc_id"].nunique() == 3


def test_flag_layout_teacher_scores(tmp_path):
    data = read_relevance(_jsonl(tmp_path / "flag.jsonl", [FLAG]))
    assert data.format == "grouped:flag"
    pairs = _by_doc(data)
    assert pairs["score"].to_dict() == pytest.approx(
        {"Rigatoni holds sauce well.": 0.91, "Bread is baked.": 0.12, "Rice is boiled.": 0.05}
    )
    assert pairs.loc["Rigatoni holds sauce well.", "label"] == 1
    assert pairs.loc["Rice is boiled.", "label"] == 0
    assert set(pairs["prompt"]) == {"Represent this query:"}


def test_flag_scores_of_wrong_length_name_the_line(tmp_path):
    bad = {**FLAG, "neg_scores": [0.1]}
    path = _jsonl(tmp_path / "flag.jsonl", [FLAG, bad])
    with pytest.raises(DataError, match=r"line 2: 'neg_scores'"):
        read_grouped(path)


@pytest.mark.parametrize("score", [None, "high", [0.5], True])
def test_a_teacher_score_that_is_not_a_number_names_the_line_and_the_entry(tmp_path, score):
    bad = {**FLAG, "neg_scores": [0.1, score]}
    path = _jsonl(tmp_path / "flag.jsonl", [FLAG, bad])
    with pytest.raises(DataError, match=rf"line 2: neg_scores\[1\] is {re.escape(repr(score))}, not a number"):
        read_grouped(path)


def test_teacher_scores_written_as_numeric_strings_are_read(tmp_path):
    path = _jsonl(tmp_path / "flag.jsonl", [{**FLAG, "neg_scores": ["0.12", "5e-2"]}])
    assert sorted(read_grouped(path).pairs["score"].dropna()) == pytest.approx([0.05, 0.12, 0.91])


def test_parallel_id_lists_name_the_documents_and_query_id_the_query(tmp_path):
    record = {**FLAG, "query_id": "Q7", "pos_ids": ["p1"], "neg_ids": ["n1", 2]}
    pairs = read_grouped(_jsonl(tmp_path / "flag.jsonl", [record])).pairs
    assert list(pairs["doc_id"]) == ["p1", "n1", "2"] and set(pairs["query_id"]) == {"Q7"}
    assert "pos_ids" not in pairs and "neg_ids" not in pairs  # ids, not metadata columns


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**FLAG, "neg_ids": ["n1"]}, r"line 1: 'neg_ids' must be a list of 2 ids, one per 'neg' entry"),
        ({**FLAG, "pos_ids": "p1"}, r"line 1: 'pos_ids' must be a list of 1 ids"),
        (
            {"query_text": "q", "positives": [{"doc_id": "a", "text": "t"}], "positives_ids": ["b"]},
            r"line 1: 'positives' entries carry their own doc_id: 'positives_ids' would contradict them",
        ),
    ],
)
def test_id_lists_that_do_not_fit_name_the_line(tmp_path, record, message):
    with pytest.raises(DataError, match=message):
        read_grouped(_jsonl(tmp_path / "g.jsonl", [record]))


def test_malformed_json_names_file_and_line(tmp_path):
    path = _jsonl(tmp_path / "bad.jsonl", [SWIFT, SWIFT, '{"query": "x", "positive": ["a"],'])
    with pytest.raises(DataError) as err:
        read_grouped(path)
    assert str(err.value).startswith(f"{path}, line 3:")
    assert "malformed JSON" in str(err.value)
    assert err.value.line == 3


def test_positives_not_a_list_names_the_line(tmp_path):
    bad = {**SEED002, "positives": "just one text"}
    path = _jsonl(tmp_path / "seed.jsonl", [SEED002, bad])
    with pytest.raises(DataError) as err:
        read_grouped(path)
    assert f"{path}, line 2" in str(err.value)
    assert "'positives' must be a list" in str(err.value)


def test_entry_without_text_is_an_error(tmp_path):
    bad = {**SEED002, "negatives": [{"doc_id": "n9"}]}
    with pytest.raises(DataError, match=r"line 1: negatives\[0\] has no 'text'"):
        read_grouped(_jsonl(tmp_path / "seed.jsonl", [bad]))


@pytest.mark.parametrize(("record", "layout"), [(SEED002, "seed002"), (SWIFT, "swift"), (FLAG, "flag")])
def test_detection_and_explicit_format(tmp_path, record, layout):
    path = _jsonl(tmp_path / "g.jsonl", [record])
    assert detect_format(path) == layout
    auto = read_relevance(path)
    explicit = read_relevance(DataConfig(path=str(path), format=layout))
    generic = read_relevance(DataConfig(path=str(path), format="grouped"))
    assert auto.format == explicit.format == generic.format == f"grouped:{layout}"
    assert auto.pairs.equals(explicit.pairs)
    assert len(auto.pairs) == 3


def test_explicit_format_that_does_not_fit_names_the_missing_field(tmp_path):
    path = _jsonl(tmp_path / "g.jsonl", [SWIFT])
    with pytest.raises(DataError, match=r"line 1: missing field 'query_text'"):
        read_relevance(DataConfig(path=str(path), format="seed002"))


def test_same_document_positive_and_negative_is_a_conflict(tmp_path):
    record = {"query": "q", "positive": ["same text", "good"], "negative": ["same text"]}
    data = read_grouped(_jsonl(tmp_path / "s.jsonl", [record]))
    assert list(data.pairs["doc"]) == ["good"]
    assert data.report.dropped["duplicate pair with conflicting labels"] == 2
    assert data.report.rows_used == len(data.pairs) == 1
