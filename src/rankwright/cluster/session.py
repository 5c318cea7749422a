"""Running a job's blocks in this process or on Dask, results in block order.

On Dask, consecutive blocks are grouped into partitions (one task each). What every
task needs (a retriever, the corpus texts) is written once to a pickle file that each
worker reads once (:meth:`Executor.share`); models are loaded by the workers
themselves, once per process (:func:`rankwright.cluster.cache.cached`). A worker that
dies has its tasks run again elsewhere (Dask's retries); since a block's result does not
depend on where it runs, the output does not change."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from rankwright.cluster.blocks import partition
from rankwright.cluster.cache import cached, forget
from rankwright.cluster.config import ClusterConfig
from rankwright.cluster.errors import WorkerError
from rankwright.cluster.memory import peak_memory

log = logging.getLogger(__name__)


def where() -> str:
    """``worker <address>`` inside a Dask worker, else ``this process``."""
    try:
        from distributed import get_worker

        return f"worker {get_worker().address}"
    except (ImportError, ValueError):
        return "this process"


@dataclass(frozen=True)
class Handle:
    """Something a task uses (a model, a retriever, the corpus): ``value`` in this
    process; on a cluster, ``load()`` run once per worker process (only the key and the
    loader travel with each task)."""

    key: tuple
    load: Callable[[], Any]
    value: Any = None

    def get(self) -> Any:
        if self.value is not None:
            return self.value
        return cached(self.key, self._load)

    def _load(self) -> Any:
        try:
            return self.load()
        except WorkerError:
            raise
        except Exception as err:
            raise WorkerError(f"{where()} could not load {self.key[-1]}: {type(err).__name__}: {err}") from err

    def __getstate__(self) -> dict[str, Any]:
        return {"key": self.key, "load": self.load, "value": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)


def load_pickle(path: str) -> Any:
    """A job's shared object from its pickle file (the workers must see the job folder)."""
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError as err:
        raise WorkerError(
            f"{where()} cannot read {path}: the workers of an existing cluster must see the output's folder "
            "(a shared file system)"
        ) from err


def _run_partition(work: Callable[[Any], Any], blocks: list[tuple[int, Any]], torch_threads: int) -> list[Any]:
    """One task: ``work`` on each of its blocks, in order."""
    if torch_threads:
        cached(("torch-threads", torch_threads), lambda: _set_torch_threads(torch_threads))
    out = []
    for index, block in blocks:
        try:
            out.append(work(block))
        except WorkerError:
            raise
        except Exception as err:
            raise WorkerError(f"{where()}: block {index}: {type(err).__name__}: {err}") from err
    return out


def _set_torch_threads(n: int) -> int:
    """A worker's torch uses its own threads, not every core of the machine."""
    import torch

    torch.set_num_threads(n)
    return n


class Executor:
    """Runs blocks of work here or on a Dask client, and shares objects with the tasks."""

    def __init__(self, config: ClusterConfig, client: Any, folder: Path | None, progress: bool, description: str):
        self.config = config
        self.client = client
        self.folder = folder
        self.progress = progress
        self.description = description

    @property
    def clustered(self) -> bool:
        return self.client is not None

    @property
    def threads(self) -> int:
        return client_threads(self.client) if self.clustered else 1

    @property
    def partitions(self) -> int:
        """Tasks a job's blocks go into: ``dask.partitions``, or 4 per worker thread."""
        return self.config.partitions or 4 * self.threads

    def share(self, value: Any, name: str) -> Handle:
        """``value`` for the tasks: itself here; on a cluster, pickled once into the job
        folder and read by each worker once."""
        if not self.clustered:
            return Handle(("shared", name), lambda: value, value)
        path = self.folder / f"{name}.pkl"
        with open(path, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        log.info("dask: the %s goes to the workers through %s (%.1f MB)", name, path, path.stat().st_size / 2**20)
        return Handle(("shared", str(path), name), partial(load_pickle, str(path)))

    def model(self, load: Callable[[], Any], name: str, value: Any = None) -> Handle:
        """A model for the tasks: here ``value`` (or ``load()``, run now); on a cluster
        each worker runs ``load`` (picklable) once and this process loads nothing."""
        if self.clustered:
            return Handle(("model", name), load)
        return Handle(("model", name), load, load() if value is None else value)

    def map(self, work: Callable[[Any], Any], blocks: Sequence[Any], desc: str) -> Iterator[Any]:
        """``work(block)`` for each block, yielded in block order."""
        bar = tqdm(total=len(blocks), desc=desc, unit="block", disable=not self.progress, file=sys.stderr)
        with bar:
            if not self.clustered:
                for block in blocks:
                    yield work(block)
                    bar.update(1)
                return
            yield from self._map_on_cluster(work, blocks, desc, bar)

    def _map_on_cluster(self, work: Callable[[Any], Any], blocks: Sequence[Any], desc: str, bar: Any) -> Iterator[Any]:
        from distributed import as_completed

        parts = partition(len(blocks), self.partitions)
        token = uuid.uuid4().hex[:8]
        threads = self.config.threads_per_worker
        futures = {
            self.client.submit(
                _run_partition, work, [(i, blocks[i]) for i in part], threads, key=f"{desc}-{token}-{n}", pure=False
            ): n
            for n, part in enumerate(parts)
        }
        log.info("dask: %d blocks in %d tasks on %s", len(blocks), len(parts), self.description)
        done: dict[int, list[Any]] = {}
        following = 0
        try:
            for future in as_completed(futures):
                n = futures[future]
                done[n] = _result(future)
                future.release()
                bar.update(len(done[n]))
                while following in done:
                    yield from done.pop(following)
                    following += 1
        finally:
            for future in futures:
                if not future.done():
                    future.cancel()

    def memory(self) -> dict[str, Any]:
        """Peak resident memory (MiB) of this process and, on a cluster, of each worker."""
        return peak_memory(self.client)

    def describe(self) -> dict[str, Any]:
        if not self.clustered:
            return {"where": "this process"}
        return {
            "where": self.description,
            "workers": len(self.client.nthreads()),
            "threads": self.threads,
            "partitions": self.partitions,
        }


def _result(future: Any) -> Any:
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker as err:
        raise WorkerError(
            f"a task killed every worker that ran it ({err}); out of memory? see dask.memory_limit"
        ) from None


@contextlib.contextmanager
def executor(config: ClusterConfig, *, near: str | Path, progress: bool = True) -> Iterator[Executor]:
    """An executor for ``config``: this process, a LocalCluster started (and closed) here,
    or an existing cluster. On a cluster, shared objects go to a job folder next to
    ``near`` (the output), removed at the end."""
    config.check()
    if not config.enabled:
        yield Executor(config, None, None, progress, "this process")
        return
    parent = Path(near).parent
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".rankwright-dask-", dir=parent))
    try:
        with _client(config) as (client, description):
            yield Executor(config, client, folder, progress, description)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _client(config: ClusterConfig) -> Iterator[tuple[Any, str]]:
    quiet_distributed()
    if config.scheduler:
        with connect(config.scheduler, config.connect_timeout) as client:
            try:
                yield client, f"the cluster at {config.scheduler}"
            finally:
                client.run(forget)  # the workers outlive the job
        return
    workers = config.workers or os.cpu_count() or 1
    with local_cluster(workers, config.threads_per_worker, True, config.memory_limit) as client:
        yield client, f"a LocalCluster of {workers} worker processes x {config.threads_per_worker} threads"


@contextlib.contextmanager
def local_cluster(workers: int, threads: int, processes: bool, memory_limit: str) -> Iterator[Any]:
    """A client of a LocalCluster started here (no dashboard), both closed on exit."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=processes,
            memory_limit=memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def client_threads(client: Any) -> int:
    """Threads over every worker of ``client``'s cluster (at least 1)."""
    return max(1, sum(client.nthreads().values()))


def connect(address: str, timeout: float = 10.0) -> Any:
    """A client of the scheduler at ``address``; a ConnectionError naming it when none
    answers within ``timeout`` seconds."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as err:
        raise ConnectionError(
            f"dask.scheduler {address}: no Dask scheduler answered within {timeout:g} s ({type(err).__name__}: {err})"
        ) from None


def quiet_distributed() -> None:
    """The scheduler and nanny narrate every start and stop at INFO."""
    if not log.isEnabledFor(logging.DEBUG):
        logging.getLogger("distributed").setLevel(logging.WARNING)
