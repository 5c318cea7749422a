"""Where the Dask graph runs: a ``distributed.LocalCluster`` by default (one worker
process per core), an existing cluster given its scheduler address, or Dask's
single-process schedulers (``synchronous``/``threads``) for debugging.

Workers of an existing cluster must see the output folder (a shared file system),
as they write their part files there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

import dask

from rankwright.cluster.memory import peak_memory
from rankwright.cluster.session import client_threads, connect, local_cluster, quiet_distributed
from rankwright.interactions.sections import DaskConfig

log = logging.getLogger(__name__)

LOCAL_SCHEDULERS = ("synchronous", "threads")


class DaskSession:
    """Computes collections on the chosen scheduler, with a progress bar."""

    def __init__(self, client: Any, scheduler: str, progress: bool, description: str):
        self.client = client
        self.scheduler = scheduler
        self.progress = progress
        self.description = description

    @property
    def threads(self) -> int:
        if self.client is None:
            return 1 if self.scheduler == "synchronous" else os.cpu_count() or 1
        return client_threads(self.client)

    def compute(self, *collections: Any) -> tuple:
        """``dask.compute`` on this session's scheduler; a progress bar when asked."""
        if self.client is None:
            from dask.diagnostics import ProgressBar

            bar = ProgressBar(out=sys.stderr) if self.progress else contextlib.nullcontext()
            with bar:
                return dask.compute(*collections, scheduler=self.scheduler)
        futures = self.client.compute(list(collections))
        if self.progress:
            from distributed import progress

            # distributed's text bar writes to sys.stdout; progress bars belong on stderr,
            # so stdout keeps only the command's report.
            with contextlib.redirect_stdout(sys.stderr):
                progress(futures)
        return tuple(self.client.gather(futures))

    def memory(self) -> dict[str, Any]:
        """Peak resident memory (MiB) of this process and of each worker process."""
        out = peak_memory(self.client)
        if self.client is not None:
            out["workers_in_client_process"] = self.description.endswith("threads")
        return out


@contextlib.contextmanager
def dask_session(config: DaskConfig, *, progress: bool = True) -> Iterator[DaskSession]:
    """A session on the configured scheduler; a LocalCluster started here is closed on exit."""
    if config.scheduler in LOCAL_SCHEDULERS:
        yield DaskSession(None, config.scheduler, progress, f"dask {config.scheduler} scheduler (this process)")
        return
    quiet_distributed()
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)  # it warns on each run
    if config.scheduler:
        with connect(config.scheduler) as client:
            yield DaskSession(client, "distributed", progress, f"cluster at {config.scheduler}")
        return
    workers = config.workers or os.cpu_count() or 1
    kind = "processes" if config.processes else "threads"
    with local_cluster(workers, config.threads_per_worker, config.processes, config.memory_limit) as client:
        description = f"LocalCluster, {workers} workers x {config.threads_per_worker} threads, {kind}"
        log.info("%s", description)
        yield DaskSession(client, "distributed", progress, description)
