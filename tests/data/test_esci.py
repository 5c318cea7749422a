"""The published ESCI release (Shopping Queries Dataset): examples table with or without
the products table joined, parquet and CSV, filters, official split, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rankwright.data.config import ColumnMap, DataConfig, LabelConfig, SplitConfig
from rankwright.data.labels import build_scheme
from rankwright.data.readers import read_relevance
from rankwright.data.records import DataError
from rankwright.data.split import split_data

# (query_id, query, product_id, product_locale, esci_label, small_version, split)
ROWS = [
    (0, "usb cable", "B01", "us", "E", 1, "train"),
    (0, "usb cable", "B02", "us", "I", 1, "train"),
    (1, "desk lamp", "B03", "us", "S", 1, "train"),
    (1, "desk lamp", "B04", "us", "C", 1, "train"),
    (2, "red shoes", "B05", "us", "E", 0, "train"),
    (2, "red shoes", "B06", "us", "I", 0, "train"),
    (3, "coffee mug", "B07", "us", "E", 1, "train"),
    (3, "coffee mug", "B01", "us", "C", 1, "train"),
    (4, "hdmi cable", "B02", "us", "E", 1, "test"),
    (4, "hdmi cable", "B08", "us", "S", 1, "test"),
    (5, "cable usb", "B09", "es", "E", 1, "test"),
    (5, "cable usb", "B10", "es", "I", 0, "test"),
]


def _examples() -> pd.DataFrame:
    qid, query, pid, locale, label, small, split = zip(*ROWS, strict=True)
    return pd.DataFrame(
        {
            "example_id": np.arange(100, 100 + len(ROWS), dtype=np.int64),
            "query": pd.Series(query, dtype=object),
            "query_id": np.array(qid, dtype=np.int64),
            "product_id": pd.Series(pid, dtype=object),
            "product_locale": pd.Series(locale, dtype=object),
            "esci_label": pd.Series(label, dtype=object),
            "small_version": np.array(small, dtype=np.int64),
            "large_version": np.ones(len(ROWS), dtype=np.int64),
            "split": pd.Series(split, dtype=object),
        }
    )


def _products() -> pd.DataFrame:
    keys = sorted({(r[2], r[3]) for r in ROWS})
    return pd.DataFrame(
        {
            "product_id": pd.Series([k[0] for k in keys], dtype=object),
            "product_title": pd.Series([f"Title {k[0]}" for k in keys], dtype=object),
            "product_description": pd.Series([f"long description of {k[0]} here" for k in keys], dtype=object),
            "product_bullet_point": pd.Series([f"bullet {k[0]}" for k in keys], dtype=object),
            "product_brand": pd.Series([None if k[0] == "B01" else "Acme" for k in keys], dtype=object),
            "product_color": pd.Series(["black" for _ in keys], dtype=object),
            "product_locale": pd.Series([k[1] for k in keys], dtype=object),
        }
    )


def _write(tmp_path, frame: pd.DataFrame, fmt: str):
    path = tmp_path / f"shopping_queries_dataset_examples.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


def _joined() -> pd.DataFrame:
    return _examples().merge(_products(), on=["product_id", "product_locale"], how="left")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_joined_release_reads_products_with_kdd_cup_gains(tmp_path, fmt):
    frame = _joined()
    assert str(frame["query_id"].dtype) == "int64" and str(frame["small_version"].dtype) == "int64"
    assert frame["product_id"].dtype == object and frame["esci_label"].dtype == object
    data = read_relevance(_write(tmp_path, frame, fmt))
    pairs = data.pairs
    assert data.report.rows_in == 12 and data.report.rows_used == 12 == len(pairs)
    assert data.n_queries == 6 and pairs["query_id"].iloc[0] == "0"
    docs = data.documents()
    assert docs["B01"] == "Title B01\nblack\nbullet B01"  # title, brand (empty: skipped), color, bullets
    assert docs["B02"] == "Title B02\nAcme\nblack\nbullet B02"
    assert list(pairs["label"][:4]) == ["E", "I", "S", "C"]
    assert list(pairs["split"].unique()) == ["train", "test"]
    scheme = build_scheme(LabelConfig(), data)
    assert scheme.class_gains == {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0} and scheme.gain_factor == 100
    assert list(scheme.gains(pairs["label"][:4])) == [100, 0, 10, 1]
    given = build_scheme(LabelConfig(scheme="classes", gains={"E": 3, "S": 2, "C": 1, "I": 0}), data)
    assert list(given.gains(pairs["label"][:4])) == [3, 0, 2, 1]


def test_fields_order_and_truncation_are_configurable(tmp_path):
    path = _write(tmp_path, _joined(), "parquet")
    columns = ColumnMap(docs=["product_description", "product_title"], separator=" | ")
    columns.truncate_words = {"product_description": 2}
    data = read_relevance(DataConfig(path=str(path), columns=columns))
    assert data.documents()["B03"] == "long description | Title B03"


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_examples_without_products_is_an_error_that_says_to_join(tmp_path, fmt):
    with pytest.raises(DataError, match=r"no product_title.*join the products table"):
        read_relevance(_write(tmp_path, _examples(), fmt))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_locale_and_small_version_filters_are_counted(tmp_path, fmt):
    path = _write(tmp_path, _joined(), fmt)
    data = read_relevance(DataConfig(path=str(path), locale="us", esci_small=True))
    report = data.report
    assert report.dropped["product_locale not 'us'"] == 2
    assert report.dropped["not in the small version (small_version != 1)"] == 2
    assert report.rows_in == 12 == report.rows_used + report.rows_dropped and report.rows_used == len(data.pairs) == 8
    assert sorted(data.pairs["query_id"].unique()) == ["0", "1", "3", "4"]
    assert "12 rows in = 8 used + 4 dropped" in report.summary()


def test_filters_on_other_tables_and_unknown_locales_are_errors(tmp_path):
    with pytest.raises(DataError, match=r"matches no row.*'es', 'us'"):
        read_relevance(DataConfig(path=str(_write(tmp_path, _joined(), "parquet")), locale="uk"))
    old = tmp_path / "old.csv"
    pd.DataFrame({"query": ["q"], "item_text": ["d"], "esci_label": ["E"]}).to_csv(old, index=False)
    with pytest.raises(DataError, match="published ESCI"):
        read_relevance(DataConfig(path=str(old), esci_small=True))


def test_old_esci_layout_keeps_its_gains(tmp_path):
    old = tmp_path / "old.csv"
    pd.DataFrame({"query": ["q", "q"], "item_text": ["d", "e"], "esci_label": ["E", "I"]}).to_csv(old, index=False)
    data = read_relevance(old)
    assert data.labels is None and build_scheme(LabelConfig(), data).class_gains["E"] == 3.0


def test_official_split_keeps_test_and_carves_val_from_train(tmp_path):
    data = read_relevance(_write(tmp_path, _joined(), "parquet"))
    parts = split_data(data, SplitConfig(by="column", ratios=[0.5, 0.5, 0.0], seed=3))
    ids = {name: set(part.pairs["query_id"]) for name, part in parts.items()}
    assert ids["test"] == {"4", "5"}
    assert ids["train"] | ids["val"] == {"0", "1", "2", "3"} and len(ids["val"]) == 2
    assert parts["train"].labels == data.labels
    default = split_data(data, SplitConfig(by="column", seed=3))  # val: 0.15 / 0.85 of 4 train queries -> 1
    assert {q for q in default["test"].pairs["query_id"]} == {"4", "5"} and default["val"].n_queries == 1
    again = split_data(data, SplitConfig(by="column", ratios=[0.5, 0.5, 0.0], seed=3))
    assert set(again["val"].pairs["query_id"]) == ids["val"]


def test_official_split_needs_a_split_column_and_known_values(tmp_path):
    old = tmp_path / "old.csv"
    pd.DataFrame({"query": ["q"], "item_text": ["d"], "esci_label": ["E"]}).to_csv(old, index=False)
    with pytest.raises(ValueError, match=r"split column|'split' column"):
        split_data(read_relevance(old), SplitConfig(by="column"))
    frame = _joined()
    frame.loc[3, "split"] = "dev"
    with pytest.raises(ValueError, match=r"'dev'.*neither train nor test"):
        split_data(read_relevance(_write(tmp_path, frame, "parquet")), SplitConfig(by="column"))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_unknown_esci_label_names_value_and_row(tmp_path, fmt):
    frame = _joined()
    frame.loc[6, "esci_label"] = "X"
    path = _write(tmp_path, frame, fmt)
    with pytest.raises(DataError, match=r"row 7: unknown esci_label value 'X'"):
        read_relevance(path)
