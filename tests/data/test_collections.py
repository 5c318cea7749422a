"""Test collections: BEIR folders, SMART folders (tiny ones and the real Cranfield)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from rankwright.data.labels import LabelConfig, build_scheme
from rankwright.data.readers import DataConfig, detect_format, read_relevance
from rankwright.data.readers.collections import find_smart_files, read_smart_collection
from rankwright.data.records import DataError


def _beir(folder):
    (folder / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": "d1", "title": "Solar power", "text": "Panels turn light into electricity."},
        {"_id": "d2", "title": "", "text": "Wind turbines spin."},
        {"_id": "d3", "title": "Hydro", "text": "Dams store water."},
    ]
    queries = [{"_id": "q1", "text": "how do solar panels work"}, {"_id": "q2", "text": "wind energy"}]
    queries.append({"_id": "q3", "text": "never judged"})
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td3\t0\nq2\td2\t1\nq2\td404\t1\nq9\td1\t1\n"
    )
    return folder


def test_beir_folder_auto_detected_and_read(tmp_path):
    folder = _beir(tmp_path / "beir")
    assert detect_format(folder) == "beir"
    data = read_relevance(folder)
    assert data.format == "beir"
    assert data.corpus == {
        "d1": "Solar power\nPanels turn light into electricity.",
        "d2": "Wind turbines spin.",
        "d3": "Hydro\nDams store water.",
    }
    assert data.queries == {"q1": "how do solar panels work", "q2": "wind energy"}
    pairs = data.pairs.set_index(["query_id", "doc_id"])
    assert pairs["label"].to_dict() == {("q1", "d1"): 2.0, ("q1", "d3"): 0.0, ("q2", "d2"): 1.0}
    assert pairs.loc[("q1", "d1"), "query"] == "how do solar panels work"
    assert pairs.loc[("q1", "d1"), "doc"] == "Solar power\nPanels turn light into electricity."


def test_beir_unknown_document_and_query_are_counted_drops(tmp_path):
    report = read_relevance(_beir(tmp_path / "beir")).report
    assert report.rows_in == 5
    assert report.dropped["qrels document not in the corpus"] == 1
    assert report.dropped["qrels query not in the query file"] == 1
    assert report.rows_used == 3


def test_beir_queries_without_a_judgment_are_left_out_and_counted(tmp_path):
    data = read_relevance(_beir(tmp_path / "beir"))
    assert "q3" not in data.queries
    assert "queries.jsonl: 1 of 3 queries have no judgment in test.tsv and are left out, e.g. 'q3'" in data.report.notes


def test_separate_corpus_queries_and_qrels_files(tmp_path):
    folder = _beir(tmp_path / "beir")
    (tmp_path / "queries.tsv").write_text("q1\thow do solar panels work\nq2\twind energy\n")
    # TREC qrels: 4 columns, no header.
    (tmp_path / "qrels.txt").write_text("q1 0 d1 2\nq1 0 d3 0\nq2 0 d2 1\n")
    config = DataConfig(
        corpus=str(folder / "corpus.jsonl"), queries=str(tmp_path / "queries.tsv"), qrels=str(tmp_path / "qrels.txt")
    )
    data = read_relevance(config)
    reference = read_relevance(folder)
    assert data.corpus == reference.corpus
    assert data.queries == reference.queries
    key = ["query_id", "doc_id", "query", "doc", "label"]
    assert data.pairs[key].to_dict("records") == reference.pairs[key].to_dict("records")
    # BEIR's 3-column qrels with a header line, beside JSONL queries, read the same.
    same = read_relevance(
        DataConfig(
            corpus=str(folder / "corpus.jsonl"),
            queries=str(folder / "queries.jsonl"),
            qrels=str(folder / "qrels" / "test.tsv"),
        )
    )
    assert same.report.rows_in == 5 and same.report.rows_used == 3


def test_separate_files_need_all_three(tmp_path):
    folder = _beir(tmp_path / "beir")
    with pytest.raises(ValueError, match=r"missing: data\.qrels"):
        read_relevance(DataConfig(corpus=str(folder / "corpus.jsonl"), queries=str(folder / "queries.jsonl")))


def test_tsv_queries_without_a_tab_name_the_line(tmp_path):
    folder = _beir(tmp_path / "beir")
    (tmp_path / "queries.tsv").write_text("q1\tsolar\nq2 wind energy\n")
    config = DataConfig(
        corpus=str(folder / "corpus.jsonl"),
        queries=str(tmp_path / "queries.tsv"),
        qrels=str(folder / "qrels" / "test.tsv"),
    )
    with pytest.raises(DataError, match=r"queries.tsv, line 2: .*no tab"):
        read_relevance(config)


def test_beir_other_split(tmp_path):
    folder = _beir(tmp_path / "beir")
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td3\t1\n")
    data = read_relevance(DataConfig(path=str(folder), qrels_split="dev"))
    assert list(zip(data.pairs["query_id"], data.pairs["doc_id"], strict=True)) == [("q2", "d3")]


def _append(path, *records):
    with open(path, "a") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)


def test_beir_duplicate_document_id_names_both_lines(tmp_path):
    folder = _beir(tmp_path / "beir")
    _append(folder / "corpus.jsonl", {"_id": "d1", "title": "Other", "text": "Different text."})
    with pytest.raises(DataError, match=r"corpus\.jsonl, line 4: duplicate document id 'd1' \(first at line 1\)"):
        read_relevance(folder)


def test_beir_identical_duplicate_document_is_merged_and_noted(tmp_path):
    folder = _beir(tmp_path / "beir")
    _append(folder / "corpus.jsonl", {"_id": "d3", "title": "Hydro", "text": "Dams store water."})
    data = read_relevance(folder)
    assert data.corpus["d3"] == "Hydro\nDams store water." and len(data.corpus) == 3
    assert "corpus.jsonl: 1 identical repeated document record(s) merged" in data.report.notes
    assert data.report.rows_used == 3


def test_beir_duplicate_query_id_names_both_lines(tmp_path):
    folder = _beir(tmp_path / "beir")
    _append(folder / "queries.jsonl", {"_id": "q2", "text": "wind power"})
    with pytest.raises(DataError, match=r"queries\.jsonl, line 4: duplicate query id 'q2' \(first at line 2\)"):
        read_relevance(folder)


@pytest.mark.parametrize("content", ["", "\n" + json.dumps({"_id": "d1", "title": " ", "text": ""}) + "\n"])
def test_beir_corpus_without_documents_is_an_error(tmp_path, content):
    folder = _beir(tmp_path / "beir")
    (folder / "corpus.jsonl").write_text(content)
    with pytest.raises(DataError, match=r"corpus\.jsonl: no documents"):
        read_relevance(folder)


def test_beir_empty_document_is_left_out_and_its_judgment_kept_for_evaluation_only(tmp_path):
    folder = _beir(tmp_path / "beir")
    _append(folder / "corpus.jsonl", {"_id": "d4", "title": "", "text": "  "})
    with open(folder / "qrels" / "test.tsv", "a") as handle:
        handle.write("q1\td4\t1\n")
    data = read_relevance(folder)
    assert "d4" not in data.corpus and "d4" not in set(data.pairs["doc_id"])
    assert any("1 empty document(s)" in note and "'d4'" in note for note in data.report.notes)
    assert "qrels document has no text" not in data.report.dropped
    assert data.report.dropped["qrels document not in the corpus"] == 1
    assert data.eval_only[["query_id", "doc_id", "label"]].values.tolist() == [["q1", "d4", 1]]
    assert data.report.evaluation_only == 1 and data.report.to_dict()["evaluation_only"] == 1
    assert "1 judgment(s) on documents without text" in data.report.summary()
    assert data.report.rows_in == 6 and data.report.rows_used == len(data.pairs) + 1 == 4
    assert data.subset({"q1"}).eval_only["doc_id"].tolist() == ["d4"]
    assert data.subset({"q2"}).eval_only.empty


def test_beir_empty_query_file_is_an_error(tmp_path):
    folder = _beir(tmp_path / "beir")
    (folder / "queries.jsonl").write_text("\n")
    with pytest.raises(DataError, match=r"queries\.jsonl: no queries"):
        read_relevance(folder)


def test_beir_qrels_with_no_known_ids_is_an_error(tmp_path):
    folder = _beir(tmp_path / "beir")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nQ-1\td1\t1\nq1\tD-9\t1\n")
    with pytest.raises(DataError) as err:
        read_relevance(folder)
    message = str(err.value)
    assert "test.tsv: none of the 2 judgments name a known query and document: do the ids match?" in message
    assert "qrels query not in the query file: 1 (e.g. query_id 'Q-1')" in message
    assert "qrels document not in the corpus: 1 (e.g. doc_id 'D-9')" in message


DOCS = """.I 1
.T
experimental investigation of the aerodynamics
of a wing
.A
brenckman,m.
.B
j. ae. scs. 25, 1958, 324.
.W
an experimental study of a wing in a propeller slipstream .
.I 2
.T
simple shear flow past a flat plate
.A
ting-yili
.B
department of aeronautical engineering.
.W
the problem of shear flow .
.I 3
.T
boundary layers
.A
m. b. glauert
.B
rep. 1956
.W
the boundary layer in simple shear flow .
"""

QUERIES = """.I 001
.W
what similarity laws must be obeyed
when constructing models .
.I 002
.W
what are the problems of shear flow .
.I 004
.W
boundary layer theory .
"""

QRELS = "1 1 2\n1 2 -1\n2 2 1\n3 3 3\n3 2 4\n"


def _smart(folder):
    folder.mkdir()
    (folder / "docs.all").write_text(DOCS)
    (folder / "topics.qry").write_text(QUERIES)
    (folder / "judgments").write_bytes(QRELS.replace("\n", "\r\n").encode())
    (folder / "notes.txt").write_text("This folder holds a tiny SMART collection for tests.\n")
    return folder


def test_smart_folder_files_are_found(tmp_path):
    folder = _smart(tmp_path / "smart")
    assert detect_format(folder) == "smart"
    assert find_smart_files(folder) == (folder / "docs.all", folder / "topics.qry", folder / "judgments")


def test_smart_auto_numbering_picks_file_order(tmp_path):
    data = read_relevance(_smart(tmp_path / "smart"))
    assert data.format == "smart"
    assert data.queries == {
        "1": "what similarity laws must be obeyed when constructing models .",
        "2": "what are the problems of shear flow .",
        "3": "boundary layer theory .",
    }
    assert any("file order" in note for note in data.report.notes)
    assert data.report.rows_in == 5 and data.report.rows_dropped == 0
    pairs = data.pairs.set_index(["query_id", "doc_id"])
    assert pairs["label"].to_dict() == {("1", "1"): 2, ("1", "2"): -1, ("2", "2"): 1, ("3", "3"): 3, ("3", "2"): 4}
    assert pairs.loc[("3", "3"), "query"] == "boundary layer theory ."


def test_smart_documents_are_title_and_abstract(tmp_path):
    data = read_relevance(_smart(tmp_path / "smart"))
    assert data.corpus["1"] == (
        "experimental investigation of the aerodynamics of a wing\n"
        "an experimental study of a wing in a propeller slipstream ."
    )
    assert set(data.corpus) == {"1", "2", "3"}
    assert all("brenckman" not in text and "1958" not in text for text in data.corpus.values())


def test_smart_id_numbering_drops_unknown_query(tmp_path):
    folder = _smart(tmp_path / "smart")
    data = read_relevance(DataConfig(path=str(folder), query_numbering="id"))
    assert set(data.queries) == {"1", "2", "4"}
    assert data.report.dropped["qrels query not in the query file"] == 2
    assert data.report.rows_used == len(data.pairs) == 3


def test_smart_duplicate_document_id_names_both_lines(tmp_path):
    folder = _smart(tmp_path / "smart")
    (folder / "docs.all").write_text(DOCS + ".I 02\n.W\nanother second document .\n")
    line = len(DOCS.splitlines()) + 1
    with pytest.raises(DataError, match=rf"docs\.all, line {line}: duplicate \.I id '02' \(first at line 11\)"):
        read_relevance(folder)


def test_smart_empty_document_file_is_an_error(tmp_path):
    folder = _smart(tmp_path / "smart")
    (folder / "docs.all").write_text("")
    with pytest.raises(DataError, match=r"docs\.all: no \.I records"):
        read_smart_collection(folder / "docs.all", folder / "topics.qry", folder / "judgments")


def test_smart_documents_without_text_in_the_chosen_fields_are_an_error(tmp_path):
    folder = _smart(tmp_path / "smart")
    with pytest.raises(DataError, match=r"docs\.all: no documents: none of the 3 records has text in fields \['X'\]"):
        read_smart_collection(folder / "docs.all", folder / "topics.qry", folder / "judgments", doc_fields=["X"])


def test_smart_qrels_with_no_known_documents_is_an_error(tmp_path):
    folder = _smart(tmp_path / "smart")
    (folder / "judgments").write_text("1 7 1\n2 8 1\n")
    with pytest.raises(DataError, match=r"judgments: none of the 2 judgments name a known query and document"):
        read_relevance(folder)


def test_cranfield(shared_data):
    folder = shared_data / "cranfield"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    data = read_relevance(folder)
    assert data.format == "smart"
    assert len(data.queries) == 225
    assert any("file order" in note for note in data.report.notes)
    # Documents 471 and 995 are empty: left out of the corpus; the one judgment of 995
    # (query 125, grade 3) is kept for evaluation only.
    assert len(data.corpus) == 1398 and not {"471", "995"} & set(data.corpus)
    assert any("2 document(s) without text" in note for note in data.report.notes)
    assert dict(data.report.dropped) == {}
    assert data.eval_only[["query_id", "doc_id", "label"]].values.tolist() == [["125", "995", 3]]
    assert data.report.rows_used == len(data.pairs) + 1

    raw = Counter()
    for line in (folder / "cranqrel").read_text().splitlines():
        if line.split():
            raw[int(line.split()[2])] += 1
    assert raw == {-1: 225, 1: 128, 2: 387, 3: 734, 4: 363}
    assert data.report.rows_in == sum(raw.values()) == len(data.pairs) + 1

    scheme = build_scheme(LabelConfig(scheme="graded", gains={"1": 4, "2": 3, "3": 2, "4": 1, "-1": 0}))
    gains = Counter(scheme.gains(data.pairs["label"]).tolist())
    assert gains == {4: raw[1], 3: raw[2], 2: raw[3] - 1, 1: raw[4], 0: raw[-1]}
    assert scheme.relevant_gain == 1
    assert np.array_equal(scheme.relevant(data.pairs["label"]), (data.pairs["label"] > 0).to_numpy())
