"""Reading interactions: formats, column configs, canonical columns, counted drops."""

from __future__ import annotations

import json

import dask.dataframe as dd
import pandas as pd
import pytest

from rankwright.data.records import DataError
from rankwright.interactions.reading import (
    InteractionsConfig,
    clean_partition,
    detect_format,
    drop_meta,
    drop_partition,
    parse_timestamps,
    read_interactions,
    summarize_drops,
)


def _canonical(config: InteractionsConfig, known=None) -> pd.DataFrame:
    raw = read_interactions(config).compute(scheduler="synchronous")
    return clean_partition(raw, config, known)[0]


def test_movielens_u_data_reads_with_the_preset_and_with_a_column_config(shared_data):
    path = shared_data / "movielens-100k" / "u.data"
    preset = _canonical(InteractionsConfig(path=str(path), format="movielens"))
    explicit = _canonical(
        InteractionsConfig(
            path=str(path),
            format="csv",
            sep="tab",  # also "\\t": a tab is hard to type as a flag
            header=False,
            names=["who", "what", "stars", "when"],
            user="who",
            item="what",
            rating="stars",
            timestamp="when",
        )
    )
    assert len(preset) == 100_000 and preset["user_id"].nunique() == 943 and preset["item_id"].nunique() == 1682
    assert preset.iloc[0].to_dict() == {"user_id": "196", "item_id": "242", "rating": 3.0, "timestamp": 881250949}
    pd.testing.assert_frame_equal(preset, explicit)
    assert detect_format(str(path)) == "movielens"


def test_csv_with_own_column_names_and_implicit_data(tmp_path):
    path = tmp_path / "clicks.csv"
    path.write_text("visitor,product,when\nv1,p1,2024-01-02T00:00:00Z\nv1,p2,10\nv2,p1,20\n")
    config = InteractionsConfig(path=str(path), user="visitor", item="product", rating=None, timestamp="when")
    frame = _canonical(config)
    assert frame["rating"].tolist() == [1.0, 1.0, 1.0]  # implicit: every interaction counts
    assert frame["timestamp"].tolist() == [1704153600, 10, 20]  # a date becomes epoch seconds
    assert frame["user_id"].tolist() == ["v1", "v1", "v2"]


def test_bad_rows_are_dropped_and_counted_with_examples(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "user_id,item_id,rating,timestamp\n"
        "u1,a,5,1\n"  # fine
        ",a,4,2\n"  # no user
        "u2,a,great,3\n"  # rating not a number
        "u3,a,4,yesterday-ish\n"  # timestamp unparseable
        "u4,zzz,4,5\n"  # unknown item
        "u5,b,2,6\n"
    )
    config = InteractionsConfig(path=str(path))
    raw = read_interactions(config).compute(scheduler="synchronous")
    known = frozenset({"a", "b"})
    clean, _ = clean_partition(raw, config, known)
    assert clean["user_id"].tolist() == ["u1", "u5"]
    summary = summarize_drops(drop_partition(raw, config, known), str(path))
    assert summary["rows_in"] == 6 and summary["rows_used"] == 2 and summary["rows_dropped"] == 4
    assert summary["dropped_by_reason"] == {
        "missing user or item id": 1,
        "rating is not a number": 1,
        "timestamp is not a number or a date": 1,
        "item not in the item table": 1,
    }
    assert summary["examples"]["rating is not a number"] == [f"{path}: row with user 'u2', item 'a': rating 'great'"]
    assert "'u4', item 'zzz'" in summary["examples"]["item not in the item table"][0]


def test_drop_partition_matches_its_meta(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("user_id,item_id,rating,timestamp\nu1,a,x,1\n")
    config = InteractionsConfig(path=str(path))
    frame = drop_partition(read_interactions(config).compute(scheduler="synchronous"), config, None)
    assert list(frame.columns) == list(drop_meta().columns)
    assert json.loads(frame.loc[frame["reason"] == "rating is not a number", "examples"].iloc[0])


def test_a_missing_column_names_the_file_and_the_columns_present(tmp_path):
    path = tmp_path / "implicit.csv"
    path.write_text("user_id,item_id,timestamp\nu,i,1\n")
    with pytest.raises(DataError, match=r"implicit.csv: no column 'rating' \(rating\); set it to none"):
        read_interactions(InteractionsConfig(path=str(path)))
    with pytest.raises(DataError, match="does not exist"):
        read_interactions(InteractionsConfig(path=str(tmp_path / "nope.csv")))
    with pytest.raises(DataError, match="cannot tell the format"):
        detect_format(str(tmp_path / "data.txt"))


def test_a_partitioned_parquet_folder_is_read_lazily(tmp_path):
    frame = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 12], "rating": [5, 3, 4, 1], "timestamp": 0})
    folder = tmp_path / "interactions"
    dd.from_pandas(frame, npartitions=2).to_parquet(folder)
    lazy = read_interactions(InteractionsConfig(path=str(folder)))
    assert isinstance(lazy, dd.DataFrame) and lazy.npartitions == 2
    clean = clean_partition(lazy.compute(scheduler="synchronous"), InteractionsConfig(path=str(folder)), None)[0]
    assert clean["user_id"].tolist() == ["1", "1", "2", "3"] and clean["item_id"].tolist() == ["10", "11", "10", "12"]


def test_parse_timestamps_numbers_dates_and_garbage():
    values = pd.Series(["5", "1970-01-01T00:01:00Z", "", "soon"])
    parsed = parse_timestamps(values)
    assert parsed.iloc[0] == 5 and parsed.iloc[1] == 60
    assert parsed.iloc[2:].isna().all()
