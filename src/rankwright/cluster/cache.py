"""What a process has loaded: models and indexes kept for the life of the process, so
a Dask worker that runs many tasks loads each of them once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

_LOADED: dict[Hashable, Any] = {}
_LOADS: dict[Hashable, int] = {}
_LOCK = threading.RLock()  # a load may load more (unpickling a miner loads its teacher)


def cached(key: Hashable, load: Callable[[], Any]) -> Any:
    """``load()``'s result, called once per process for each ``key``."""
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = load()
            _LOADS[key] = _LOADS.get(key, 0) + 1
        return _LOADED[key]


def load_counts() -> dict[str, int]:
    """How many times each key was loaded in this process (a test reads it on each worker)."""
    with _LOCK:
        return {repr(k): n for k, n in _LOADS.items()}


def forget() -> int:
    """Drop everything loaded (the counts stay): a worker of a long-lived cluster does not
    keep one job's models and index into the next, nor a model folder since rewritten."""
    with _LOCK:
        n = len(_LOADED)
        _LOADED.clear()
        return n
