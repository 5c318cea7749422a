"""Shared pieces of the benchmark scripts: data paths, machine description, timing
(commands, A/B runs taking turns, GPU synchronisation), memory, result files."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import platform
import resource
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RANKWRIGHT_SHARED_DATA", REPO.parent / "shared" / "data"))

T = TypeVar("T")


# -- the machine ---------------------------------------------------------------------------


def machine() -> dict[str, object]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def load_average() -> float:
    """The machine's 1-minute load average (another job slows whatever it overlaps)."""
    return os.getloadavg()[0]


# -- timing --------------------------------------------------------------------------------


def timed_run(command: Sequence[str], **kwargs: Any) -> float:
    """Wall seconds of ``subprocess.run(command, check=True, **kwargs)``."""
    started = time.perf_counter()
    subprocess.run(list(command), check=True, **kwargs)
    return time.perf_counter() - started


def interleaved(names: Sequence[T], rounds: int, rotate: bool = True) -> Iterator[tuple[int, T]]:
    """(round, name) for ``rounds`` rounds over ``names`` in turn (with ``rotate`` the
    first rotating each round), so drift in the machine's load hits every system alike."""
    names = list(names)
    for round_ in range(rounds):
        shift = round_ % len(names) if rotate else 0
        for name in names[shift:] + names[:shift]:
            yield round_, name


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def cuda_sync() -> None:
    """Wait for the GPU's queued work (timing marks need it); nothing without CUDA."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


# -- memory --------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def release_freed_memory() -> None:
    """Return freed heap pages to the OS, so RSS before a run counts live memory only."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _rss_reader():
    page = os.sysconf("SC_PAGE_SIZE")
    fd = os.open("/proc/self/statm", os.O_RDONLY)

    def rss_bytes() -> int:
        return int(os.pread(fd, 128, 0).split()[1]) * page

    return rss_bytes


class PeakRSS:
    """RSS growth over a ``with`` block: its start vs the peak sampled every ``interval`` s."""

    def __init__(self, interval: float = 0.002):
        self.interval = interval
        self.rss = _rss_reader()
        self.stop = threading.Event()

    def _sample(self) -> None:
        while not self.stop.wait(self.interval):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = self.rss()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.rss())

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.start) / 2**20


def gib(n: int) -> float:
    return n / 2**30


def free_cuda() -> None:
    """Free cached GPU memory and restart the peak counters (after ``gc``)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def cuda_peak_memory() -> dict[str, float | None]:
    """Peak GPU memory allocated and reserved since the last :func:`free_cuda`, GiB."""
    if not torch.cuda.is_available():
        return {"peak_memory_gib": None, "peak_memory_reserved_gib": None}
    return {
        "peak_memory_gib": gib(torch.cuda.max_memory_allocated()),
        "peak_memory_reserved_gib": gib(torch.cuda.max_memory_reserved()),
    }


# -- results -------------------------------------------------------------------------------


def write_json(path: str | Path, data: Any, *, default: Any = None, newline: bool = True) -> Path:
    """``data`` as indented JSON at ``path`` (its folder made); ``default`` as for
    ``json.dumps`` (``str`` for paths and numpy numbers)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=default) + ("\n" if newline else ""), encoding="utf-8")
    return path
