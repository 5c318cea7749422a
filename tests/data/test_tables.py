"""Pointwise tables: layout detection, encodings, column maps, drops and duplicates."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from rankwright.data.readers import ColumnMap, DataConfig, read_relevance
from rankwright.data.readers.tables import read_table
from rankwright.data.records import DataError


def _csv(path, header, rows, encoding="utf-8"):
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def test_esci_parquet_is_detected_and_read(tmp_path):
    path = tmp_path / "esci.parquet"
    frame = {"query": ["usb cable", "usb cable", "desk lamp"], "item_text": ["USB-C cable", "HDMI", "LED lamp"]}
    pd.DataFrame({**frame, "esci_label": ["E", "I", "S"]}).to_parquet(path)
    data = read_relevance(path)
    assert data.format == "table"
    assert list(data.pairs["label"]) == ["E", "I", "S"]
    assert list(data.pairs["doc"]) == ["USB-C cable", "HDMI", "LED lamp"]
    assert data.n_queries == 2
    assert data.report.rows_in == 3 and data.report.rows_dropped == 0


def test_homedepot_latin1_csv_falls_back_with_note(tmp_path):
    header = ["id", "product_uid", "product_title", "search_term", "relevance"]
    rows = [[1, 100001, "Café table", "cafe table", 3], [2, 100002, "Angle bracket", "angle bracket", 2.33]]
    path = _csv(tmp_path / "train.csv", header, rows, encoding="latin-1")
    with pytest.raises(UnicodeDecodeError):
        path.read_text(encoding="utf-8")
    data = read_relevance(path)
    assert list(data.pairs["doc"]) == ["Café table", "Angle bracket"]
    assert list(data.pairs["query"]) == ["cafe table", "angle bracket"]
    assert list(data.pairs["doc_id"]) == ["100001", "100002"]
    assert list(data.pairs["label"]) == [3.0, 2.33]
    assert any("latin-1" in note for note in data.report.notes)


def test_explicit_encoding_that_fails_is_an_error(tmp_path):
    path = _csv(tmp_path / "t.csv", ["query", "doc", "label"], [["q", "é", 1]], encoding="latin-1")
    with pytest.raises(DataError, match=r"t\.csv"):
        read_relevance(DataConfig(path=str(path), encoding="utf-8"))


def test_column_map_joins_docs_and_truncates_second_column(tmp_path):
    header = ["q", "title", "description", "grade"]
    rows = [["red shoes", "Runner", "light and fast shoe for road running", 2]]
    path = _csv(tmp_path / "t.csv", header, rows)
    cols = ColumnMap(query="q", docs=["title", "description"], label="grade", separator=" | ")
    cols.truncate_words = {"description": 3}
    data = read_table(path, cols)
    assert data.pairs.loc[0, "doc"] == "Runner | light and fast"
    assert data.pairs.loc[0, "query"] == "red shoes"
    assert data.pairs.loc[0, "label"] == 2


def test_jsonl_pointwise_table(tmp_path):
    path = tmp_path / "pairs.jsonl"
    records = [{"query": "q one", "doc": "d one", "label": 1}, {"query": "q one", "doc": "d two", "label": 0}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    data = read_relevance(path)
    assert data.format == "table"
    assert list(data.pairs["doc"]) == ["d one", "d two"]
    assert list(data.pairs["label"]) == [1, 0]
    assert data.n_queries == 1


def test_tsv_table(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("query\tdoc\tlabel\nwhat, exactly\tan answer, with commas\t1\n")
    data = read_relevance(path)
    assert data.pairs.loc[0, "query"] == "what, exactly"
    assert data.pairs.loc[0, "doc"] == "an answer, with commas"
    assert data.pairs.loc[0, "label"] == 1


def test_missing_column_names_file_and_column(tmp_path):
    path = _csv(tmp_path / "t.csv", ["q", "title", "grade"], [["a", "b", 1]])
    with pytest.raises(DataError) as err:
        read_table(path, ColumnMap(query="q", docs=["title", "body"], label="grade"))
    assert str(path) in str(err.value)
    assert "'body'" in str(err.value)


def test_unmapped_unknown_layout_is_an_error(tmp_path):
    path = _csv(tmp_path / "t.csv", ["a", "b", "c"], [[1, 2, 3]])
    with pytest.raises(DataError, match="no known layout"):
        read_table(path)


def test_empty_and_missing_values_are_dropped_and_counted(tmp_path):
    rows = [
        ["q1", "d1", 1],  # kept
        ["", "d2", 1],  # empty query
        ["q3", "", 0],  # empty document
        ["q4", "d4", "nan"],  # label "nan"
        ["q5", "d5", ""],  # empty label
        ["q6", "d6", 0],  # kept
    ]
    data = read_table(_csv(tmp_path / "t.csv", ["query", "doc", "label"], rows))
    report = data.report
    assert report.dropped["empty query"] == 1
    assert report.dropped["empty document"] == 1
    assert report.dropped["missing label (NaN or empty)"] == 2
    assert report.rows_in == 6 and report.rows_dropped == 4
    assert report.rows_in == report.rows_used + report.rows_dropped
    assert report.rows_used == len(data.pairs) == 2
    assert list(data.pairs["query"]) == ["q1", "q6"]


def test_row_blank_in_two_fields_is_dropped_once(tmp_path):
    # A row such as ",,1" (no query and no document) is one dropped row, not an exception.
    data = read_table(_csv(tmp_path / "t.csv", ["query", "doc", "label"], [["q1", "d1", 1], ["", "", 1]]))
    assert list(data.pairs["query"]) == ["q1"]
    assert data.report.rows_dropped == 1
    assert data.report.rows_used == len(data.pairs) == 1


def test_row_blank_in_two_fields_is_not_counted_twice(tmp_path):
    rows = [["q1", "d1", 1], ["", "", 1], ["q3", "", 1]]
    data = read_table(_csv(tmp_path / "t.csv", ["query", "doc", "label"], rows))
    assert data.report.dropped["empty query"] == 1
    assert data.report.dropped["empty document"] == 1
    assert data.report.rows_used == len(data.pairs) == 1


def test_real_nan_label_is_dropped(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"query": ["a", "b", "c"], "doc": ["x", "y", "z"], "label": [1.0, math.nan, 0.0]}).to_parquet(path)
    data = read_table(path)
    assert data.report.dropped["missing label (NaN or empty)"] == 1
    assert list(data.pairs["query"]) == ["a", "c"]
    assert data.report.rows_used == len(data.pairs) == 2


def test_duplicate_with_same_label_is_merged_and_counted(tmp_path):
    rows = [["q", "d", 1], ["q", "d", 1], ["q", "e", 0]]
    data = read_table(_csv(tmp_path / "t.csv", ["query", "doc", "label"], rows))
    assert len(data.pairs) == 2
    assert data.report.dropped["duplicate pair (same label, merged)"] == 1
    assert data.report.rows_used == 2


def _conflict_csv(tmp_path):
    rows = [["q", "d", 0], ["q", "other", 1], ["q", "d", 2]]
    return _csv(tmp_path / "t.csv", ["query", "doc", "label"], rows)


def test_conflicting_duplicates_dropped_by_default(tmp_path):
    data = read_table(_conflict_csv(tmp_path))
    assert list(data.pairs["doc"]) == ["other"]
    assert data.report.dropped["duplicate pair with conflicting labels"] == 2
    assert data.report.rows_used == len(data.pairs) == 1


def test_conflicting_duplicates_error_names_rows(tmp_path):
    path = _conflict_csv(tmp_path)
    with pytest.raises(DataError) as err:
        read_table(path, on_duplicate="error")
    assert str(path) in str(err.value)
    assert "rows [1, 3]" in str(err.value)


def test_conflicting_duplicates_error_names_rows_of_the_same_pair(tmp_path):
    # Two conflicting pairs, interleaved: the rows named must be those of the pair named.
    rows = [["a", "x", 1], ["b", "y", 1], ["a", "x", 0], ["b", "y", 0]]
    path = _csv(tmp_path / "t.csv", ["query", "doc", "label"], rows)
    with pytest.raises(DataError) as err:
        read_table(path, on_duplicate="error")
    assert "rows [1, 3] give query 'a'" in str(err.value)


def test_conflicting_duplicates_max_keeps_max(tmp_path):
    data = read_table(_conflict_csv(tmp_path), on_duplicate="max")
    kept = data.pairs.set_index("doc")["label"]
    assert kept["d"] == 2 and kept["other"] == 1
    assert len(data.pairs) == 2
    assert data.report.rows_used == 2 and data.report.rows_dropped == 1
