"""Part files merge into the same per-split files however the rows were partitioned,
and those files read back as rankwright relevance data."""

from __future__ import annotations

import json

import pandas as pd

from rankwright.data.readers import DataConfig, read_relevance
from rankwright.interactions.output import (
    part_files,
    read_pairs,
    remove_parts,
    sort_rows,
    user_key,
    write_parts,
    write_split,
)
from rankwright.interactions.users import ROW_COLUMNS


def rows() -> pd.DataFrame:
    out = []
    for user in ["10", "9", "abc", "2"]:
        for g in range(2):
            for k in range(3):
                out.append(
                    {
                        "user_id": user,
                        "query_id": f"{user}:p{g}",
                        "query": f"context of {user} {g}",
                        "doc_id": f"p{g}" if k == 0 else f"n{g}{k}",
                        "doc": f"text {g} {k}",
                        "label": int(k == 0),
                        "hard": int(k == 2),
                        "split": "train" if user != "abc" else "test",
                        "context_items": [f"c{g}", "c9"],
                        "position": 3 * g + k,
                    }
                )
    return pd.DataFrame(out, columns=ROW_COLUMNS)


def test_user_keys_sort_numbers_numerically():
    assert sorted(["10", "9", "abc", "2"], key=user_key) == ["2", "9", "10", "abc"]
    assert sort_rows(rows())["user_id"].drop_duplicates().tolist() == ["2", "9", "10", "abc"]


def _write(tmp_path, partitions: list[list[str]]) -> dict[str, bytes]:
    frame = rows()
    for i, users in enumerate(partitions):
        write_parts(frame[frame["user_id"].isin(users)], tmp_path, i)
    results = {s: write_split(tmp_path, s, ["jsonl", "parquet"]) for s in ("train", "test")}
    assert results["train"]["rows"] == 18 and results["train"]["groups"] == 6 and results["test"]["rows"] == 6
    return {name: (tmp_path / name).read_bytes() for name in ("train.jsonl", "train.parquet", "test.jsonl")}


def test_the_merge_does_not_depend_on_the_partitioning(tmp_path):
    one = _write(tmp_path / "one", [["10", "9", "abc", "2"]])
    many = _write(tmp_path / "many", [["abc", "9"], ["2"], ["10"]])
    assert one == many
    lines = [json.loads(line) for line in (tmp_path / "one" / "train.jsonl").read_text().splitlines()]
    assert [r["query_id"] for r in lines] == ["2:p0", "2:p1", "9:p0", "9:p1", "10:p0", "10:p1"]
    first = lines[0]
    assert first["pos"] == [{"doc_id": "p0", "text": "text 0 0"}]
    assert first["neg"] == [
        {"doc_id": "n01", "text": "text 0 1", "hard": False},
        {"doc_id": "n02", "text": "text 0 2", "hard": True},
    ]
    assert (first["user_id"], first["split"], first["context_items"]) == ("2", "train", ["c0", "c9"])


def test_the_files_read_back_as_relevance_data(tmp_path):
    _write(tmp_path, [["10", "9", "abc", "2"]])
    grouped = read_relevance(DataConfig(path=str(tmp_path / "train.jsonl")))
    table = read_relevance(DataConfig(path=str(tmp_path / "train.parquet")))
    assert grouped.format == "grouped:flag" and table.format == "table"
    for data in (grouped, table):
        pairs = data.pairs.sort_values(["query_id", "doc_id"]).reset_index(drop=True)
        assert len(pairs) == 18 and pairs["query_id"].nunique() == 6
        assert pairs["label"].astype(int).sum() == 6
    assert "user_id" in grouped.pairs  # extra keys travel along
    back = read_pairs(tmp_path, "train")  # from the parts while they exist
    remove_parts(tmp_path)
    assert part_files(tmp_path, "train") == [] and not (tmp_path / "parts").exists()
    from_file = read_pairs(tmp_path, "train")  # then from the parquet file
    assert sorted(back["query_id"]) == sorted(from_file["query_id"])


def test_a_split_without_parts_writes_nothing(tmp_path):
    assert write_split(tmp_path, "val", ["jsonl"]) == {"rows": 0, "groups": 0, "files": {}}
    assert not (tmp_path / "val.jsonl").exists()
