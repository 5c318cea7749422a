"""Peak memory of a process (the client's, or a Dask worker's through ``client.run``)."""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any


def peak_rss_mib() -> float:
    """Peak resident memory of the calling process so far, in MiB.

    Linux's ``VmHWM`` where there is one: ``getrusage``'s ``ru_maxrss`` survives
    ``exec``, so a worker spawned by a large parent would report the parent's size."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory(client: Any = None) -> dict[str, Any]:
    """Peak resident memory (MiB) of this process and, given a Dask client, of each worker."""
    out: dict[str, Any] = {"client_peak_mib": round(peak_rss_mib(), 1)}
    if client is not None:
        peaks = client.run(peak_rss_mib)
        out["worker_peak_mib"] = {addr: round(v, 1) for addr, v in sorted(peaks.items())}
    return out
