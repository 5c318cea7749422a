"""Tables that cannot be read say so naming the file and the fix: empty files, a header
without rows, a known layout without its label column, columns of no known layout."""

from __future__ import annotations

import pytest

from rankwright.data.readers import read_relevance
from rankwright.data.records import DataError


@pytest.mark.parametrize("name", ["empty.csv", "empty.tsv", "empty.parquet", "empty.csv.gz"])
def test_an_empty_file_is_named(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(DataError, match=rf"^{path}: is empty \(0 bytes\)$"):
        read_relevance(path)


def test_a_header_without_rows_is_named(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("query,doc,label\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}: has no rows \(only a header: \['query', 'doc', 'label'\]\)$"):
        read_relevance(path)


def test_blank_lines_only_are_empty(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}: is empty: no header and no rows$"):
        read_relevance(path)


@pytest.mark.parametrize(
    "header, query, doc, label",
    [
        ("query,doc", "query", "doc", "label"),
        ("id,product_uid,product_title,search_term", "search_term", "product_title", "relevance"),
    ],
)
def test_a_known_layout_without_its_label_names_the_label_and_the_flag(tmp_path, header, query, doc, label):
    path = tmp_path / "t.csv"
    path.write_text(header + "\n" + ",".join("x" for _ in header.split(",")) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_relevance(path)
    message = str(err.value)
    assert message.startswith(f"{path}: no label column: the columns {header.split(',')}")
    assert f"hold a query ({query!r}) and documents ({doc!r}) but no {label!r}" in message
    assert message.endswith("name the label column with --data.columns.label")
    assert "match no known layout" not in message


def test_unknown_columns_name_the_layouts_and_the_flags(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("q,text,grade\na,b,1\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_relevance(path)
    message = str(err.value)
    assert "match no known layout (esci: query, item_text, esci_label; homedepot:" in message
    assert message.endswith("--data.columns.query, --data.columns.docs and --data.columns.label")


def test_a_mapped_column_that_is_missing_names_its_flag(tmp_path):
    from rankwright.data.readers import ColumnMap, DataConfig

    path = tmp_path / "t.csv"
    path.write_text("query,doc,grade\na,b,1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"missing column\(s\) \['label'\]; .*name them with --data.columns.label$"):
        read_relevance(DataConfig(path=str(path), columns=ColumnMap(query="query", docs=["doc"])))
