"""``mine``, ``teacher-score``, ``rerank`` and ``retrieve-rerank`` on a 2-worker Dask
LocalCluster of real processes: the files they write are byte-identical to the
single-process run for any number of partitions, each worker loads a model or the
shared index once, and a worker killed mid-job changes nothing in the output."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from rankwright.cli import main as cli
from rankwright.cluster.cache import forget, load_counts

distributed = pytest.importorskip("distributed")

WORDS = [
    "drill",
    "sofa",
    "lamp",
    "kettle",
    "hose",
    "table",
    "chair",
    "fan",
    "rug",
    "bulb",
    "saw",
    "paint",
    "door",
    "tile",
    "sink",
]
COLOURS = ["red", "blue", "green", "black", "white", "grey"]


def _collection() -> tuple[dict, dict, list]:
    docs, queries, qrels = {}, {}, []
    for i, word in enumerate(WORDS):
        for j, colour in enumerate(COLOURS):
            docs[f"{word}_{colour}"] = f"{colour} {word} with a {COLOURS[(j + 1) % 6]} trim, model {i * 7 + j}"
            docs[f"{word}_{colour}_kit"] = f"{word} kit in {colour}; spare parts for the {word}"
        for colour in COLOURS[:3]:
            qid = f"q_{word}_{colour}"
            queries[qid] = f"{colour} {word}"
            qrels += [(qid, f"{word}_{colour}", 2), (qid, f"{word}_{colour}_kit", 1), (qid, f"{word}_grey_kit", 0)]
    return docs, queries, qrels


@pytest.fixture(scope="module")
def beir(tmp_path_factory, write_beir) -> Path:
    return write_beir(tmp_path_factory.mktemp("beir") / "tools", *_collection())


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c,
        distributed.Client(c) as client,
    ):
        yield c, client


def _run(argv: list[str]) -> None:
    assert cli([*argv, "--progress", "false"]) == 0


def _dask(cluster, partitions: int) -> list[str]:
    return ["--dask.scheduler", cluster[0].scheduler_address, "--dask.partitions", str(partitions)]


def _commands(beir: Path, tiny_cross_encoder: str, tiny_bi_encoder: str) -> dict[str, tuple[list[str], list[str]]]:
    """Per command: its arguments (without the output) and the files it writes."""
    data = ["--data.path", str(beir), "--subset", "all"]
    return {
        "mine-bm25-teacher": (
            [
                "mine",
                *data,
                "--mining.block",
                "7",
                "--mining.ranks",
                "1,12",
                "--mining.negatives",
                "4",
                "--teacher.model",
                tiny_cross_encoder,
                "--teacher.margin",
                "0.0",
            ],
            ["out.jsonl", "out.summary.json"],
        ),
        "mine-dense": (
            [
                "mine",
                *data,
                "--mining.block",
                "5",
                "--retriever.kind",
                "dense",
                "--retriever.dense.model",
                tiny_bi_encoder,
                "--teacher.model",
                "dense",
                "--teacher.dense.model",
                tiny_bi_encoder,
            ],
            ["out.jsonl"],
        ),
        "teacher-score": (["teacher-score", *data, "--model", tiny_cross_encoder, "--block", "20"], ["out.jsonl"]),
        "rerank": (["rerank", *data[:2], "--model", tiny_cross_encoder, "--block", "25"], ["out.trec"]),
        "retrieve-rerank": (
            ["retrieve-rerank", *data, "--model", tiny_cross_encoder, "--block", "6", "--retriever.top_k", "20"],
            ["out/reranked.trec", "out/bm25.trec", "out/metrics.json", "out/per_query.csv"],
        ),
    }


def _output_args(command: str, folder: Path) -> list[str]:
    if command == "retrieve-rerank":
        return ["--output_dir", str(folder / "out")]
    return ["--output", str(folder / ("out.trec" if command == "rerank" else "out.jsonl"))]


@pytest.mark.parametrize("name", ["mine-bm25-teacher", "mine-dense", "teacher-score", "rerank", "retrieve-rerank"])
def test_the_files_are_byte_identical_to_one_process(
    name, beir, cluster, tiny_cross_encoder, tiny_bi_encoder, tmp_path, monkeypatch
):
    from rankwright.inference.reranker import Reranker

    argv, files = _commands(beir, tiny_cross_encoder, tiny_bi_encoder)[name]
    _run([*argv, *_output_args(argv[0], tmp_path / "one")])
    if name != "mine-dense":  # the others score only on the workers: this process loads no model weights
        monkeypatch.setattr(Reranker, "from_pretrained", lambda *a, **k: pytest.fail("the client loaded a model"))
    for partitions in (3, 7):
        _run([*argv, *_output_args(argv[0], tmp_path / f"dask{partitions}"), *_dask(cluster, partitions)])
    for file in files:
        if file.endswith("summary.json"):
            continue  # times and the cluster's description differ
        one = (tmp_path / "one" / file).read_bytes()
        assert len(one) > 200
        for partitions in (3, 7):
            assert (tmp_path / f"dask{partitions}" / file).read_bytes() == one, f"{file}, {partitions} partitions"
    assert not list(tmp_path.glob("**/.rankwright-dask-*")), "the job folder is removed"


def test_the_summary_counts_match_and_describe_the_cluster(
    beir, cluster, tiny_cross_encoder, tiny_bi_encoder, tmp_path
):
    import json

    argv, _ = _commands(beir, tiny_cross_encoder, tiny_bi_encoder)["mine-bm25-teacher"]
    _run([*argv, *_output_args("mine", tmp_path / "one")])
    _run([*argv, *_output_args("mine", tmp_path / "dask"), *_dask(cluster, 4)])
    one, dask = (json.loads((tmp_path / k / "out.summary.json").read_text()) for k in ("one", "dask"))
    counts = ("queries_in", "queries_written", "negatives", "dropped_by_teacher", "candidates_in_window", "positives")
    assert {k: dask[k] for k in counts} == {k: one[k] for k in counts}
    assert one["dropped_by_teacher"] > 0 and one["examples_dropped_by_teacher"] == dask["examples_dropped_by_teacher"]
    assert one["dask"]["where"] == "this process"
    assert dask["dask"]["workers"] == 2 and dask["dask"]["partitions"] == 4
    assert len(dask["dask"]["worker_peak_mib"]) == 2


def test_each_worker_loads_a_model_and_an_index_once(beir, cluster, tiny_cross_encoder, tiny_bi_encoder, tmp_path):
    client = cluster[1]
    argv, _ = _commands(beir, tiny_cross_encoder, tiny_bi_encoder)["retrieve-rerank"]
    before = client.run(load_counts)
    _run([*argv, *_output_args("retrieve-rerank", tmp_path), *_dask(cluster, 8)])  # 8 tasks a stage, 2 workers
    after = client.run(load_counts)
    assert len(after) == 2
    loads = {w: {k: n - before[w].get(k, 0) for k, n in after[w].items() if n > before[w].get(k, 0)} for w in after}
    for worker, loaded in loads.items():
        assert loaded and all(n == 1 for n in loaded.values()), (worker, loaded)
    keys = {k for loaded in loads.values() for k in loaded}
    assert any(tiny_cross_encoder in k for k in keys) and any("retriever" in k for k in keys)
    assert sum(client.run(forget).values()) == 0, "the workers dropped the job's models and index at its end"


def test_a_worker_killed_mid_job_changes_nothing(beir, tiny_cross_encoder, tmp_path):
    argv = ["teacher-score", "--data.path", str(beir), "--subset", "all", "--model", tiny_cross_encoder]
    argv += ["--block", "10"]
    _run([*argv, "--output", str(tmp_path / "one.jsonl")])
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c,
        distributed.Client(c) as client,
    ):
        pids = client.run(os.getpid)
        job = threading.Thread(
            target=_run,
            args=(
                [
                    *argv,
                    "--output",
                    str(tmp_path / "dask.jsonl"),
                    "--dask.scheduler",
                    c.scheduler_address,
                    "--dask.partitions",
                    "12",
                ],
            ),
        )
        job.start()
        victim = _wait_for_a_busy_worker(client, job)
        os.kill(pids[victim], signal.SIGKILL)
        job.join(timeout=300)
        assert not job.is_alive()
        assert pids[victim] not in client.run(os.getpid).values(), "the killed worker was replaced"
    assert (tmp_path / "dask.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()


def _wait_for_a_busy_worker(client, job: threading.Thread) -> str:
    """The address of a worker running one of the job's tasks (the job still running)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        busy = [w for w, tasks in client.processing().items() if any("teacher" in str(t) for t in tasks)]
        if busy:
            assert job.is_alive()
            return busy[0]
        time.sleep(0.01)
    raise AssertionError("no task of the job started within 120 s")
