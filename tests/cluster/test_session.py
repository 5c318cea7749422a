"""The executor: blocks in order here and on a real LocalCluster, shared objects read
once per worker, a model a worker cannot load named with the worker, and an address
where no scheduler answers refused within ``dask.connect_timeout``."""

from __future__ import annotations

import pickle
import socket
import time
from functools import partial

import pytest

from rankwright.cli import main as cli
from rankwright.cluster.cache import cached, load_counts
from rankwright.cluster.config import ClusterConfig
from rankwright.cluster.errors import WorkerError
from rankwright.cluster.session import Handle, executor


def _times(handle: Handle, block: int) -> int:
    return handle.get()["factor"] * block


def _times_slowly(handle: Handle, block: int) -> int:
    time.sleep(0.02)  # long enough that one worker cannot run every task before the other starts
    return _times(handle, block)


def _missing_model() -> None:
    raise OSError("no such folder: /nowhere/model")


def test_in_this_process_blocks_run_in_order_and_nothing_is_pickled(tmp_path):
    with executor(ClusterConfig(), near=tmp_path / "out", progress=False) as ex:
        assert not ex.clustered and ex.describe() == {"where": "this process"}
        shared = ex.share({"factor": 3}, "table")
        assert list(ex.map(partial(_times, shared), [1, 2, 3], "test")) == [3, 6, 9]
    assert not list(tmp_path.iterdir())


def test_a_handle_travels_without_its_value():
    handle = Handle(("model", "test-handle-value"), partial(dict, loaded=True), value={"in": "memory"})
    assert handle.get() == {"in": "memory"}
    copy = pickle.loads(pickle.dumps(handle))
    assert copy.value is None and copy.get() == {"loaded": True}
    assert copy.get() is copy.get()  # loaded once per process
    assert load_counts()[repr(("model", "test-handle-value"))] == 1


def test_a_load_that_fails_names_where_and_what():
    with pytest.raises(WorkerError, match=r"this process could not load the model x: OSError: no such folder"):
        Handle(("model", "the model x"), _missing_model).get()


def test_cached_loads_once_even_when_a_load_loads_more():
    calls = []

    def outer():
        calls.append("outer")
        return cached(("inner-for-test",), lambda: calls.append("inner") or "inner value")

    assert cached(("outer-for-test",), outer) == "inner value"
    assert cached(("outer-for-test",), outer) == "inner value"
    assert calls == ["outer", "inner"]


@pytest.mark.slow
def test_on_a_local_cluster_blocks_come_back_in_order_and_a_failing_load_names_the_worker(tmp_path):
    config = ClusterConfig(workers=2, partitions=5)
    with executor(config, near=tmp_path / "out", progress=False) as ex:
        assert ex.clustered and ex.describe()["workers"] == 2
        shared = ex.share({"factor": 7}, "table")
        assert list(ex.map(partial(_times_slowly, shared), list(range(23)), "test")) == [7 * i for i in range(23)]
        # each worker read the shared table from the job folder through the cache, once
        assert shared.key == ("shared", str(ex.folder / "table.pkl"), "table")
        counts = ex.client.run(load_counts)
        assert len(counts) == 2
        assert {worker: c.get(repr(shared.key)) for worker, c in counts.items()} == dict.fromkeys(counts, 1)
        assert all(n == 1 for c in counts.values() for n in c.values())
        broken = Handle(("model", "the model /nowhere/model"), _missing_model)
        with pytest.raises(WorkerError, match=r"worker tcp://[\d.:]+ could not load the model /nowhere/model: OSError"):
            list(ex.map(partial(_times, broken), [1, 2], "test"))
    assert not list(tmp_path.glob(".rankwright-dask-*")), "the job folder is removed"


def test_an_unreachable_scheduler_fails_within_the_timeout_naming_the_address(tmp_path, caplog):
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    data = tmp_path / "pairs.jsonl"
    data.write_text('{"query_id": "q", "query": "a", "doc_id": "d", "doc": "b", "label": 1}\n')
    started = time.monotonic()
    argv = [
        "teacher-score",
        "--data.path",
        str(data),
        "--model",
        "/nowhere/model",
        "--output",
        str(tmp_path / "t.jsonl"),
    ]
    code = cli([*argv, "--dask.scheduler", address, "--dask.connect_timeout", "2"])
    assert code == 2
    assert time.monotonic() - started < 20
    assert f"dask.scheduler {address}: no Dask scheduler answered within 2 s" in caplog.text
    assert "/nowhere/model" not in caplog.text  # it failed before reading the data or the model
