"""Test collections: BEIR folders, SMART folders (tiny ones and the real Cranfield)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from rankwright.data.labels import LabelConfig, build_scheme
from rankwright.data.readers import DataConfig, detect_format, read_relevance
from rankwright.data.readers.collections import find_smart_files


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


def test_beir_other_split(tmp_path):
    folder = _beir(tmp_path / "beir")
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td3\t1\n")
    data = read_relevance(DataConfig(path=str(folder), qrels_split="dev"))
    assert list(zip(data.pairs["query_id"], data.pairs["doc_id"], strict=True)) == [("q2", "d3")]


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


def test_cranfield(shared_data):
    folder = shared_data / "cranfield"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    data = read_relevance(folder)
    assert data.format == "smart"
    assert len(data.corpus) == 1400
    assert len(data.queries) == 225
    assert any("file order" in note for note in data.report.notes)
    assert data.report.rows_used == len(data.pairs)
    # Documents 471 and 995 are empty; the one judgment of 995 (query 125, grade 3) is dropped.
    assert {k for k, v in data.corpus.items() if not v.strip()} == {"471", "995"}
    assert dict(data.report.dropped) == {"empty document": 1}

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
