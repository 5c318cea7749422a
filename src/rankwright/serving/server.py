"""The uvicorn server of ``rankwright serve``: :class:`DrainingServer` drains before it
stops (see :mod:`rankwright.serving.lifecycle`).

Signals: the first SIGTERM or SIGINT drains (new rerank requests get 503, the ones in
flight get up to ``grace_period`` seconds, then the rest get 503), then the server stops
as uvicorn does (it stops listening, lets answers being written finish, at most
``timeout_graceful_shutdown`` seconds) and the process exits 0; a second signal stops
without waiting for the rest of the grace period; a third does not wait for connections.
"""

from __future__ import annotations

import asyncio
import signal
from types import FrameType

import uvicorn

from rankwright.serving.lifecycle import LIFECYCLE_STATE_KEY, Lifecycle


class DrainingServer(uvicorn.Server):
    """A ``uvicorn.Server`` that drains on the first SIGTERM/SIGINT and stops when the
    app's warm-up fails (``failed``: its error; ``rankwright serve`` then exits 1).
    ``ignore_sigint``: only SIGTERM counts (a worker process, whose parent forwards
    signals as SIGTERM, ignores the terminal's Ctrl-C)."""

    def __init__(self, config: uvicorn.Config, ignore_sigint: bool = False):
        super().__init__(config)
        self.ignore_sigint = ignore_sigint
        self.drain_requested = False
        self.failed: BaseException | None = None
        self._draining: asyncio.Task | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Unlike uvicorn's, the signal is not raised again after the shutdown: the process exits 0.
        if sig == signal.SIGINT and self.ignore_sigint:
            return
        if not self.drain_requested:
            self.drain_requested = True
        elif not self.should_exit:
            self.should_exit = True
        else:
            self.force_exit = True

    @property
    def lifecycle(self) -> Lifecycle | None:
        """The app's lifecycle, once its lifespan has started (None for other apps)."""
        return getattr(getattr(self, "lifespan", None), "state", {}).get(LIFECYCLE_STATE_KEY)

    async def on_tick(self, counter: int) -> bool:
        lifecycle = self.lifecycle
        if lifecycle is not None and lifecycle.error is not None and not self.should_exit:
            self.failed = lifecycle.error
            self.should_exit = True
        if self.drain_requested and self._draining is None:
            self._draining = asyncio.create_task(self._drain(lifecycle), name="rankwright-drain")
        return await super().on_tick(counter)

    async def _drain(self, lifecycle: Lifecycle | None) -> None:
        try:
            if lifecycle is not None:
                await lifecycle.drain()
        finally:
            self.should_exit = True
