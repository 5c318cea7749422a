"""The Dask pipeline: a 2-worker LocalCluster gives the single-process result, the
partitioning never changes the output, partitioned parquet in and out, what the
client receives is small, and the leakage check runs on every partition."""

from __future__ import annotations

import json
import time

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import rankwright.interactions.users as users_module
from rankwright.interactions.cluster import DaskSession
from rankwright.interactions.leakage import PairLeakageError
from rankwright.interactions.pipeline import build_pairs

FILES = ["train.jsonl", "val.jsonl", "test.jsonl", "train.parquet", "test.parquet", "item_popularity.parquet"]
# Every feature on: time split, hard negatives, popularity-weighted random negatives.
FULL = {
    "split": {"by": "time"},
    "negatives": {"per_positive": 2, "hard_per_positive": 1, "popularity_alpha": 0.75, "eval_per_positive": 5},
}


def _outputs(folder) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


def _counts(summary: dict) -> dict:
    keep = ("rows", "groups", "users", "positives", "negatives", "interactions", "leakage")
    return {k: summary[k] for k in keep}


def test_a_two_worker_local_cluster_equals_the_single_process_result(tiny_data, tmp_path, pairs_config):
    single = build_pairs(pairs_config(tiny_data, tmp_path / "single", dask={"npartitions": 1}, **FULL))
    started = time.perf_counter()
    cluster = build_pairs(
        pairs_config(tiny_data, tmp_path / "cluster", dask={"scheduler": None, "workers": 2, "processes": True}, **FULL)
    )
    seconds = time.perf_counter() - started
    assert cluster["dask"]["cluster"] == "LocalCluster, 2 workers x 1 threads, processes"
    assert cluster["dask"]["npartitions"] == 4 and single["dask"]["npartitions"] == 1
    assert _outputs(tmp_path / "single") == _outputs(tmp_path / "cluster")
    assert _counts(single) == _counts(cluster)
    assert len(cluster["memory"]["worker_peak_mib"]) == 2
    assert sum(cluster["negatives"]["hard_per_split"].values()) > 0 and cluster["leakage"]["ok"]
    assert seconds < 120, f"the 2-worker run took {seconds:.0f} s"


def test_an_existing_cluster_is_used_by_its_scheduler_address(tiny_data, tmp_path, pairs_config):
    from distributed import LocalCluster

    build_pairs(pairs_config(tiny_data, tmp_path / "single", **FULL))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        summary = build_pairs(pairs_config(tiny_data, tmp_path / "remote", dask={"scheduler": address}, **FULL))
        assert len(cluster.scheduler.workers) == 2  # the cluster outlives the run
    assert summary["dask"]["cluster"] == f"cluster at {address}"
    assert _outputs(tmp_path / "single") == _outputs(tmp_path / "remote")


@pytest.mark.parametrize("npartitions", [3, 7])
def test_the_partitioning_does_not_change_the_output(tiny_data, tmp_path, pairs_config, npartitions):
    build_pairs(pairs_config(tiny_data, tmp_path / "one", dask={"npartitions": 1}, **FULL))
    config = pairs_config(tiny_data, tmp_path / "many", dask={"npartitions": npartitions}, **FULL)
    config.output.formats = ["jsonl", "parquet", "partitioned"]
    build_pairs(config)
    assert _outputs(tmp_path / "one") == _outputs(tmp_path / "many")
    # each part holds whole users: no user in two parts
    parts = sorted((tmp_path / "many" / "parts" / "train").glob("part-*.parquet"))
    assert len(parts) > 1
    users = [set(pd.read_parquet(p)["user_id"]) for p in parts]
    assert sum(len(u) for u in users) == len(set().union(*users))


def test_partitioned_parquet_in_and_out(tiny_data, tmp_path, pairs_config):
    build_pairs(pairs_config(tiny_data, tmp_path / "from_csv"))
    folder = tmp_path / "interactions.parquet"
    frame = pd.read_csv(tiny_data["interactions"], dtype={"user_id": str})
    dd.from_pandas(frame, npartitions=3).to_parquet(folder)
    config = pairs_config(tiny_data, tmp_path / "from_parquet", interactions={"path": str(folder)})
    config.output.formats = ["jsonl", "partitioned"]
    summary = build_pairs(config)
    assert summary["dask"]["input_partitions"] == 3
    assert (tmp_path / "from_csv" / "train.jsonl").read_bytes() == (
        tmp_path / "from_parquet" / "train.jsonl"
    ).read_bytes()
    parts = dd.read_parquet(tmp_path / "from_parquet" / "parts" / "train")
    assert parts.npartitions >= 1 and len(parts) == summary["rows"]["train"]


def test_summary_counts_add_up(tiny_data, tmp_path, pairs_config):
    summary = build_pairs(pairs_config(tiny_data, tmp_path, positives={"min_per_user": 4}))
    users, positives, negatives = summary["users"], summary["positives"], summary["negatives"]
    assert users["with_interactions"] == 30 and users["kept"] + users["dropped_fewer_than_min_positives"] == 30
    assert users["dropped_fewer_than_min_positives"] > 0
    for split in ("train", "val", "test"):
        expected = positives["used_per_split"][split] + negatives["random_per_split"][split]
        assert summary["rows"][split] == summary["rows_per_split"][split] == expected
        assert summary["groups"][split] == positives["used_per_split"][split]
    used = sum(positives["used_per_split"].values())
    assert (
        positives["available"] == used + positives["dropped_over_per_user_cap"] + positives["dropped_with_their_user"]
    )
    assert sum(summary["users"]["per_split"].values()) == users["kept"]  # split by user: one split each
    assert summary["interactions"]["rows_in"] == summary["interactions"]["rows_used"] > 0
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["rows"] == summary["rows"] and written["leakage"]["ok"]


def test_another_seed_gives_other_pairs(tiny_data, tmp_path, pairs_config):
    build_pairs(pairs_config(tiny_data, tmp_path / "a"))
    build_pairs(pairs_config(tiny_data, tmp_path / "b", seed=43))
    assert (tmp_path / "a" / "train.jsonl").read_bytes() != (tmp_path / "b" / "train.jsonl").read_bytes()


def test_the_client_receives_counts_not_interactions(tiny_data, tmp_path, pairs_config, monkeypatch):
    received = []
    compute = DaskSession.compute

    def spy(self, *collections):
        results = compute(self, *collections)
        received.append([len(r) for r in results])
        return results

    monkeypatch.setattr(DaskSession, "compute", spy)
    summary = build_pairs(pairs_config(tiny_data, tmp_path, dask={"npartitions": 3}))
    (drops, popularity), (stats,) = received
    assert drops == 1 and popularity <= 40  # one accounting row per partition; one count per item
    assert stats == 3  # one statistics row per partition
    assert summary["interactions"]["rows_in"] > 100


def test_the_leakage_check_runs_on_every_partition(tiny_data, tmp_path, pairs_config, monkeypatch):
    plan = users_module.plan_groups

    def leaky(*args, **kwargs):  # a bug: contexts keep the positive
        groups, first_held = plan(*args, **kwargs)
        for group in groups:
            group.pool = np.union1d(group.pool, [group.positive])
        return groups, first_held

    monkeypatch.setattr(users_module, "plan_groups", leaky)
    with pytest.raises(PairLeakageError, match="positive in its own context"):
        build_pairs(pairs_config(tiny_data, tmp_path, split={"by": "time"}))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert not summary["leakage"]["ok"]
    assert summary["leakage"]["violations"]["positive in its own context"] == sum(summary["groups"].values())
    assert summary["leakage"]["violations"]["held-out item in a context"] > 0


def test_a_malformed_interactions_file_is_an_error_naming_it(tiny_data, tmp_path, pairs_config):
    from rankwright.data.records import DataError

    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,rating,timestamp\n1,i01,5,10\n2,i02,4,20,extra,fields\n")
    config = pairs_config(tiny_data, tmp_path / "out", interactions={"path": str(bad)})
    with pytest.raises(DataError, match=r"bad.csv: cannot be parsed: .*Expected 4 fields in line 3, saw 6"):
        build_pairs(config)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("user_id,item_id,rating,timestamp\nRen\u00e9,i01,5,10\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.csv: cannot be decoded as utf-8"):
        build_pairs(pairs_config(tiny_data, tmp_path / "out", interactions={"path": str(latin)}))


@pytest.mark.parametrize("by", ["user", "time"])
def test_the_written_files_pass_the_leakage_check_against_the_raw_interactions(tiny_data, tmp_path, pairs_config, by):
    from rankwright.interactions.leakage import check_leakage

    build_pairs(pairs_config(tiny_data, tmp_path, split={"by": by}, **{"positives": {"max_per_user": 0}}))
    files = [tmp_path / f"{s}.parquet" for s in ("train", "val", "test") if (tmp_path / f"{s}.parquet").exists()]
    rows = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    raw = pd.read_csv(tiny_data["interactions"], dtype={"user_id": str, "item_id": str})
    report = check_leakage(rows, raw, by)
    assert report.ok and report.users_checked == rows["user_id"].nunique() > 20
    assert set(rows["split"]) == {"train", "val", "test"}
