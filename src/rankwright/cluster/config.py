"""Where a scoring, mining or retrieval job runs: in this process (the default), on a
LocalCluster of worker processes started here, or on an existing Dask cluster
(dataclasses only, no Dask)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ClusterConfig:
    """``dask.workers N`` or ``dask.scheduler ADDRESS`` moves the job onto Dask."""

    scheduler: str | None = field(
        default=None,
        metadata={"help": "address of an existing Dask cluster (tcp://host:8786); its workers must see the files"},
    )
    workers: int | None = field(
        default=None, metadata={"help": "start a LocalCluster of this many worker processes (none: no Dask)"}
    )
    threads_per_worker: int = field(default=1, metadata={"help": "LocalCluster threads (and torch threads) per worker"})
    memory_limit: str = field(default="auto", metadata={"help": "LocalCluster memory limit per worker, e.g. 4GiB"})
    partitions: int | None = field(
        default=None,
        metadata={"help": "tasks the blocks go into (default: 4 per worker thread); outputs do not depend on it"},
    )
    connect_timeout: float = field(default=10.0, metadata={"help": "seconds to reach dask.scheduler before failing"})

    @property
    def enabled(self) -> bool:
        return bool(self.scheduler) or self.workers is not None

    def check(self) -> None:
        if self.scheduler and self.workers is not None:
            raise ValueError(
                f"dask.scheduler ({self.scheduler}) and dask.workers ({self.workers}) are both set: "
                "workers start a LocalCluster, a scheduler address uses an existing cluster; set one"
            )
        for name in ("workers", "partitions"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"dask.{name} must be at least 1, got {value}")
        if self.threads_per_worker < 1:
            raise ValueError(f"dask.threads_per_worker must be at least 1, got {self.threads_per_worker}")
        if self.connect_timeout <= 0:
            raise ValueError(f"dask.connect_timeout must be positive, got {self.connect_timeout}")
