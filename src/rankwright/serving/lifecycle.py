"""The life of a serving app: ``starting`` (the model warms up) -> ``ready`` ->
``draining`` (a SIGTERM came), or ``failed`` (the warm-up failed).

- ``/ready`` answers 200 only when ``ready``; ``/health`` names the state.
- :meth:`Lifecycle.drain` (called by :class:`rankwright.serving.server.DrainingServer`
  on the first SIGTERM or SIGINT, found in the ASGI lifespan state under
  :data:`LIFECYCLE_STATE_KEY`): from then on new rerank requests get 503 at once; the
  ones in flight (reading their body, queued or being scored) get up to
  ``grace_period`` seconds to finish; then those left are shed (503) and the server
  stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rankwright.serving.batcher import ShuttingDown

log = logging.getLogger(__name__)

#: where the app's lifespan publishes its :class:`Lifecycle` for the server
LIFECYCLE_STATE_KEY = "rankwright.lifecycle"
#: how often a drain looks at the requests in flight (s)
POLL_S = 0.02
#: how long a drain waits for the shed requests' answers to be written (s)
AFTER_SHED_S = 1.0


class Lifecycle:
    """The state of one app and its rerank requests in flight (see the module docstring).

    ``shed(error) -> count`` fails the requests still waiting or being scored when the
    grace period ends (the batcher's :meth:`~rankwright.serving.batcher.Batcher.shed`)."""

    def __init__(self, grace_period: float, shed: Callable[[BaseException], int]):
        self.grace_period = grace_period
        self.state = "starting"
        self.error: BaseException | None = None
        self.in_flight = 0
        self._shed = shed

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def draining(self) -> bool:
        return self.state == "draining"

    def set_ready(self) -> None:
        if self.state == "starting":
            self.state = "ready"

    def fail(self, error: BaseException) -> None:
        """The app cannot serve (its warm-up failed): the server stops (exit code 1)."""
        self.state, self.error = "failed", error

    @contextmanager
    def request(self) -> Iterator[None]:
        """Count a rerank request in flight while the block runs."""
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def drain(self) -> None:
        """Stop taking rerank requests, wait up to ``grace_period`` s for the ones in
        flight, then shed those left (they get 503) and wait briefly for their answers."""
        if self.state == "draining":
            return
        self.state = "draining"
        log.info("draining: %d rerank requests in flight, at most %g s to finish", self.in_flight, self.grace_period)
        if await self._settled(self.grace_period):
            return
        shed = self._shed(ShuttingDown(f"the server stopped after its grace period ({self.grace_period:g} s)"))
        log.warning("grace period over: %d requests still waiting or being scored get 503", shed)
        await self._settled(AFTER_SHED_S)

    async def _settled(self, seconds: float) -> bool:
        """Whether no request is in flight, waiting at most ``seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.in_flight and loop.time() < deadline:
            await asyncio.sleep(POLL_S)
        return not self.in_flight
