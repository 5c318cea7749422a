"""Wall-clock seconds per recipe step (``recipe.json``'s ``seconds``)."""

from __future__ import annotations

import time


class Clock:
    """Each :meth:`lap` records the seconds since the previous one (or since creation) under a name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 2)
        self._last = now
