"""TREC qrels and runs: field counts, line endings, errors naming lines, trec_eval order."""

from __future__ import annotations

import pandas as pd
import pytest

from rankwright.data.readers import read_qrels, read_run, write_run
from rankwright.data.records import DataError


def _write(path, text, newline="\n"):
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def _records(frame):
    return [tuple(r) for r in frame[["query_id", "doc_id", "grade"]].itertuples(index=False)]


def test_qrels_four_fields(tmp_path):
    path = _write(tmp_path / "qrels", "1 0 d1 2\n1 0 d2 0\n2 0 d1 1\n")
    assert _records(read_qrels(path)) == [("1", "d1", 2.0), ("1", "d2", 0.0), ("2", "d1", 1.0)]


def test_qrels_three_fields(tmp_path):
    path = _write(tmp_path / "qrels", "1 184 2\n1 29 -1\n2 12 3\n")
    assert _records(read_qrels(path)) == [("1", "184", 2.0), ("1", "29", -1.0), ("2", "12", 3.0)]


def test_qrels_crlf_tabs_and_blank_lines(tmp_path):
    path = _write(tmp_path / "qrels", "1\t0\td1\t1\n\n2 0 d2\t0 \n", newline="\r\n")
    frame = read_qrels(path)
    assert _records(frame) == [("1", "d1", 1.0), ("2", "d2", 0.0)]
    assert not any("\r" in v for v in frame["doc_id"])


def test_qrels_header_is_skipped_on_request(tmp_path):
    path = _write(tmp_path / "test.tsv", "query-id\tcorpus-id\tscore\nq1\tdoc1\t1\n")
    assert _records(read_qrels(path, skip_header=True)) == [("q1", "doc1", 1.0)]
    with pytest.raises(DataError, match="line 1: grade 'score' is not a number"):
        read_qrels(path)


def test_qrels_field_count_changes_names_the_line(tmp_path):
    path = _write(tmp_path / "qrels", "1 0 d1 1\n1 0 d2 0\n1 d3 1\n")
    with pytest.raises(DataError) as err:
        read_qrels(path)
    assert str(err.value).startswith(f"{path}, line 3:")
    assert err.value.line == 3


def test_qrels_first_line_of_wrong_width_names_the_line(tmp_path):
    path = _write(tmp_path / "qrels", "\n1 0 d1 1 extra\n")
    with pytest.raises(DataError, match=r", line 2: a qrels line has 3 or 4 fields"):
        read_qrels(path)


def test_qrels_repeated_judgment_is_an_error(tmp_path):
    path = _write(tmp_path / "qrels", "1 0 d1 1\n1 0 d1 0\n")
    with pytest.raises(DataError, match="judges document d1 more than once"):
        read_qrels(path)


def test_read_run(tmp_path):
    path = _write(tmp_path / "run", "1 Q0 d3 1 2.5 bm25\n1 Q0 d1 2 1.25 bm25\n", newline="\r\n")
    frame = read_run(path)
    assert list(frame["doc_id"]) == ["d3", "d1"]
    assert list(frame["rank"]) == [1, 2]
    assert list(frame["score"]) == [2.5, 1.25]
    assert set(frame["tag"]) == {"bm25"}


def test_run_wrong_field_count_names_the_line(tmp_path):
    path = _write(tmp_path / "run", "1 Q0 d3 1 2.5 bm25\n1 Q0 d1 2 1.25\n")
    with pytest.raises(DataError) as err:
        read_run(path)
    assert str(err.value).startswith(f"{path}, line 2:")
    assert "found 5" in str(err.value)


def test_run_bad_score_names_the_line(tmp_path):
    path = _write(tmp_path / "run", "1 Q0 d3 1 high bm25\n")
    with pytest.raises(DataError, match=r"line 1: score 'high' is not a number"):
        read_run(path)


def _written(path):
    return [line.split() for line in path.read_text().splitlines()]


def test_write_run_breaks_ties_by_doc_id_descending(tmp_path):
    scores = pd.DataFrame(
        {
            "query_id": ["2", "1", "1", "1", "1", "2"],
            "doc_id": ["a", "d10", "d9", "d2", "top", "b"],
            "score": [1.0, 0.5, 0.5, 0.5, 0.9, 1.0],
        }
    )
    path = tmp_path / "run"
    write_run(scores, path, tag="t")
    lines = _written(path)
    # query 1: top (0.9), then the 0.5 ties by doc_id descending as strings: d9 > d2 > d10.
    assert [(f[0], f[2], f[3]) for f in lines] == [
        ("1", "top", "1"),
        ("1", "d9", "2"),
        ("1", "d2", "3"),
        ("1", "d10", "4"),
        ("2", "b", "1"),
        ("2", "a", "2"),
    ]
    assert all(f[1] == "Q0" and f[5] == "t" for f in lines)
    back = read_run(path)
    assert list(back["rank"]) == [1, 2, 3, 4, 1, 2]


def test_write_run_ranks_agree_with_trec_eval_order_of_written_scores(tmp_path):
    # trec_eval re-sorts by the score as written (then doc_id descending), so two
    # distinct scores that print the same must get ranks in doc_id-descending order.
    scores = pd.DataFrame({"query_id": ["1", "1"], "doc_id": ["a", "b"], "score": [0.1234567894, 0.1234567891]})
    path = tmp_path / "run"
    write_run(scores, path)
    back = read_run(path)
    trec_eval_order = back.sort_values(["score", "doc_id"], ascending=[False, False], kind="mergesort")
    assert list(trec_eval_order["rank"]) == [1, 2]


def test_a_line_that_is_not_utf8_is_named(tmp_path):
    run, qrels = tmp_path / "latin.run", tmp_path / "latin.qrels"
    run.write_bytes(b"q1 Q0 d1 1 2.0 sys\nq1 Q0 d\xe92 2 1.0 sys\n")
    qrels.write_bytes(b"q1 0 d1 1\nq1 0 d\xe92 0\n")
    with pytest.raises(DataError, match=r"latin.run, line 2: is not UTF-8 \(invalid continuation byte"):
        read_run(run)
    with pytest.raises(DataError, match=r"latin.qrels, line 2: is not UTF-8"):
        read_qrels(qrels)
