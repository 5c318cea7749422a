"""The uvicorn server of ``rankwright serve``: :class:`DrainingServer` drains before it
stops (see :mod:`rankwright.serving.lifecycle`).

Signals: the first SIGTERM or SIGINT drains (new rerank requests get 503, the ones in
flight get up to ``grace_period`` seconds, then the rest get 503), then the server stops
as uvicorn does (it stops listening, lets answers being written finish, at most
``timeout_graceful_shutdown`` seconds) and the process exits 0; a second signal stops
without waiting for the rest of the grace period; a third does not wait for connections.

Connections (:class:`ServerConfig`): a request (headers and body) must arrive whole
within ``timeout_read`` seconds of its first byte, and a new connection must send one
within that time, else the connection is closed (:class:`ReadTimeoutH11Protocol`: a
half-sent request holds no slot); idle keep-alive connections close after
``timeout_keep_alive`` seconds; past ``limit_concurrency`` connections or requests,
uvicorn answers 503.

Workers (:func:`run_workers`): N processes listen on the port, each on its own socket
with ``SO_REUSEPORT`` where the system has it (the kernel spreads connections over
them), else on one shared socket, each with its own app (loaded from an import
string, e.g. a factory reading the settings from the environment) and
:class:`DrainingServer`; SIGTERM or SIGINT to the parent drains them
all (forwarded as SIGTERM), and a worker that dies later than ``STARTUP_S`` after its
start is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
from types import FrameType

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from rankwright.serving.lifecycle import LIFECYCLE_STATE_KEY, Lifecycle

log = logging.getLogger(__name__)

#: a worker that dies within this many seconds of its start failed to start: all stop
STARTUP_S = 60.0


class ServerConfig(uvicorn.Config):
    """``uvicorn.Config`` with ``timeout_read`` (seconds; None: no limit), served by
    :class:`ReadTimeoutH11Protocol`."""

    def __init__(self, app, *, timeout_read: float | None = None, **kwargs):
        super().__init__(app, http=ReadTimeoutH11Protocol, **kwargs)
        self.timeout_read = timeout_read


class ReadTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection that has not sent a whole request
    within ``config.timeout_read`` seconds of connecting or of the request's first
    byte (idle keep-alive connections are closed by ``timeout_keep_alive``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._read_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):  # a request begun, not whole
            if self._read_timer is None:
                self._arm()
        elif self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        super().connection_lost(exc)

    def _arm(self) -> None:
        timeout = getattr(self.config, "timeout_read", None)
        if timeout:
            self._read_timer = self.loop.call_later(timeout, self._timed_out, timeout)

    def _timed_out(self, timeout: float) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            log.info("closing a connection from %s: no whole request within %g s", self.client, timeout)
            self.transport.close()


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


def _worker(config: uvicorn.Config, sockets: list[socket.socket]) -> None:  # pragma: no cover (a subprocess)
    """One worker process: its app and a :class:`DrainingServer` on the shared sockets."""
    config.configure_logging()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = DrainingServer(config, ignore_sigint=True)
    server.run(sockets=sockets)
    if server.failed is not None:
        raise SystemExit(1)


class _Workers:
    """The worker processes of :func:`run_workers` and the signals the parent got."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]):
        self.config, self.sockets = config, sockets  # one listening socket per worker
        self.context = multiprocessing.get_context("spawn")
        self.signals = 0
        self.processes = [self._start(i) for i in range(len(sockets))]

    def _start(self, i: int) -> tuple[multiprocessing.process.BaseProcess, float]:
        args = (self.config, [self.sockets[i]])
        process = self.context.Process(target=_worker, args=args, name=f"rankwright-worker-{i}")
        process.start()
        return process, time.monotonic()

    def on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.signals += 1
        for process, _ in self.processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)

    def watch(self) -> int:
        """Replace workers that die while serving; 1 when one fails to start (all are
        stopped), else 0 once every worker exited after a signal (1: one failed)."""
        while not self.signals:
            time.sleep(0.2)
            for i, (process, started) in enumerate(self.processes):
                if process.is_alive() or self.signals:
                    continue
                if time.monotonic() - started < STARTUP_S:
                    log.error("worker %s exited (code %s) while starting: stopping", process.pid, process.exitcode)
                    self.on_signal(signal.SIGTERM, None)
                    self._join()
                    return 1
                log.warning("worker %s died (code %s): starting another", process.pid, process.exitcode)
                self.processes[i] = self._start(i)
        self._join()
        # A worker the forwarded SIGTERM reached before its server took the signal over
        # (still starting: nothing to drain) ends with -SIGTERM: a clean stop too.
        return int(any(process.exitcode not in (0, -signal.SIGTERM) for process, _ in self.processes))

    def _join(self) -> None:
        for process, _ in self.processes:
            process.join()


def worker_sockets(config: uvicorn.Config, workers: int) -> list[socket.socket]:
    """A listening socket per worker on ``config``'s host and port: with ``SO_REUSEPORT``
    (Linux, BSD) each its own, so the kernel spreads new connections over the workers
    (one shared socket lets whichever worker wakes first take them: measured, one of two
    workers took nearly every keep-alive connection); else one socket shared by all."""
    if workers < 2 or not hasattr(socket, "SO_REUSEPORT") or config.uds or config.fd is not None:
        shared = config.bind_socket()
        return [shared] * workers
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sockets: list[socket.socket] = []
    port = config.port
    for _ in range(workers):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((config.host, port))
        except OSError:
            sock.close()
            for other in sockets:
                other.close()
            raise
        port = sock.getsockname()[1]  # port 0: the others join the one the first was given
        sock.listen(config.backlog)
        sock.set_inheritable(True)
        sockets.append(sock)
    log.info("%d workers on %s:%d, each with its own listening socket (SO_REUSEPORT)", workers, config.host, port)
    return sockets


def run_workers(config: uvicorn.Config, workers: int) -> int:
    """Serve ``config`` (its app an import string) with ``workers`` processes until
    SIGTERM or SIGINT (see the module docstring); the exit code."""
    sockets = worker_sockets(config, workers)
    group = _Workers(config, sockets)
    previous = {sig: signal.signal(sig, group.on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return group.watch()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sock in set(sockets):
            sock.close()
