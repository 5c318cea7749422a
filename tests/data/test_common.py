"""Ids for rows that have none: hashes of the text, said once with the count."""

from __future__ import annotations

import hashlib
import logging

from rankwright.data.readers import read_relevance
from rankwright.data.readers.common import stable_id


def test_table_without_query_ids_gets_hash_ids_and_says_so_once(tmp_path, caplog):
    path = tmp_path / "pairs.csv"
    rows = [f"{q},doc {q} {d},{d % 2}" for q in ("usb cable", "desk lamp", " desk lamp ", "sofa") for d in range(3)]
    path.write_text("query,doc,label\n" + "\n".join(rows) + "\n")
    with caplog.at_level(logging.INFO, logger="rankwright"):
        data = read_relevance(path)
    said = [r.getMessage() for r in caplog.records if "had no query id" in r.getMessage()]
    assert len(said) == 1
    assert said[0].startswith(f"data: {path}: 3 queries had no query id; ids are hashes of the query text (")
    assert "SHA-1" in said[0]
    assert set(data.pairs["query_id"]) == {stable_id("q", q) for q in ("usb cable", "desk lamp", "sofa")}
    sofa = data.pairs.loc[data.pairs["query"] == "sofa", "query_id"].iloc[0]
    assert sofa == "q" + hashlib.sha1(b"sofa").hexdigest()[:12]
    assert any("3 queries had no query id" in n for n in data.report.notes)


def test_missing_ids_are_filled_row_by_row_and_given_ids_kept(tmp_path, caplog):
    path = tmp_path / "pairs.csv"
    path.write_text("query_id,query,doc,label\nA,usb cable,cable,1\n,desk lamp,lamp,1\n,desk lamp,bulb,0\n")
    with caplog.at_level(logging.INFO, logger="rankwright"):
        data = read_relevance(path)
    assert list(data.pairs["query_id"]) == ["A", stable_id("q", "desk lamp"), stable_id("q", "desk lamp")]
    assert "nan" not in set(data.pairs["doc_id"]) | set(data.pairs["query_id"])
    assert any("data: " in r.getMessage() and "1 query had no query id" in r.getMessage() for r in caplog.records)


def test_table_with_query_ids_says_nothing_about_them(tmp_path, caplog):
    path = tmp_path / "pairs.csv"
    path.write_text("query_id,query,doc,label\nA,usb cable,cable,1\nB,desk lamp,lamp,0\n")
    with caplog.at_level(logging.INFO, logger="rankwright"):
        data = read_relevance(path)
    assert list(data.pairs["query_id"]) == ["A", "B"]
    assert not any("query id" in r.getMessage() for r in caplog.records)
    assert data.report.notes == []


def test_an_id_given_with_several_texts_keeps_its_first_and_says_so(tmp_path, caplog):
    path = tmp_path / "pairs.csv"
    path.write_text(
        "query_id,query,doc_id,doc,label\n"
        "A,usb cable,d1,braided usb cable,1\n"
        "A,usb cable 2m,d2,usb hub,0\n"  # query A given another text
        "B,desk lamp,d1,braided USB-C cable,0\n"  # document d1 given another text
        "B,desk lamp,d3,lamp,1\n"
    )
    with caplog.at_level(logging.WARNING, logger="rankwright"):
        data = read_relevance(path)
    assert list(data.pairs["query"]) == ["usb cable", "usb cable", "desk lamp", "desk lamp"]
    assert list(data.pairs["doc"]) == ["braided usb cable", "usb hub", "braided usb cable", "lamp"]
    assert data.query_texts() == {"A": "usb cable", "B": "desk lamp"}
    notes = [n for n in data.report.notes if "more than one text" in n]
    assert notes == [
        "1 query id(s) are given with more than one text (1 row(s) changed); each id keeps the text of its first "
        "row, e.g. query id 'A': row 1 'usb cable', row 2 'usb cable 2m'",
        "1 document id(s) are given with more than one text (1 row(s) changed); each id keeps the text of its "
        "first row, e.g. document id 'd1': row 1 'braided usb cable', row 3 'braided USB-C cable'",
    ]
    assert all(f"data: {path}: {n}" in caplog.text for n in notes)
    assert data.report.rows_used == 4  # nothing dropped


def test_ids_with_one_text_each_say_nothing(tmp_path, caplog):
    path = tmp_path / "pairs.csv"
    path.write_text("query_id,query,doc_id,doc,label\nA,usb cable,d1,cable,1\nB,desk lamp,d1,cable,0\n")
    with caplog.at_level(logging.WARNING, logger="rankwright"):
        data = read_relevance(path)
    assert not any("more than one text" in n for n in data.report.notes) and "more than one text" not in caplog.text
