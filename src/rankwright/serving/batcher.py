"""Micro-batching of concurrent requests into one model call.

Requests wait in a bounded queue. One worker task takes the first waiting request,
then adds more while they keep coming (at most ``max_wait_s`` after the first) until
the batch would exceed ``max_batch_pairs`` pairs (a request is never split: one larger
than the limit is scored alone), and runs ``process(jobs)`` on a single-thread
executor, so the model is never run by two threads at once and the event loop keeps
answering (``/health``, ``/metrics``, new requests) while it works. ``process`` returns
one result per job, or an exception for a job that failed on its own; each request's
future gets its own. When ``process`` fails as a whole (raises) for a batch of several
requests, each is processed again alone, so one request's bad input fails that request
only and the others get their results. While the model is busy, new requests
accumulate and form the next batch, so under load batches grow without waiting.

Backpressure: at most ``max_queue`` requests wait; one more is refused at once with
:class:`QueueFull` (the server's 503), not left to time out. A request whose caller
stopped waiting (its future is cancelled: a timeout, a client gone) or whose deadline
has passed is dropped from the queue, not scored (``on_drop(reason)``: ``"abandoned"``
or ``"expired"``).

Shutdown: :meth:`Batcher.shed` fails every waiting and running request with the error
it is given (the server's 503 when a drain's grace period ends); :meth:`Batcher.close`
fails the ones left with :class:`ShuttingDown`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

Job = TypeVar("Job")
Result = TypeVar("Result")


class QueueFull(RuntimeError):
    """The queue holds ``max_queue`` requests: come back later."""


class ShuttingDown(RuntimeError):
    """The server stops before the request was scored."""


@dataclass
class _Item(Generic[Job]):
    job: Job
    pairs: int
    future: asyncio.Future
    queued_at: float
    deadline: float | None = None  # loop time after which nobody wants the result


@dataclass(frozen=True)
class BatchStats:
    """What one model call did: requests and pairs in it and its seconds (``isolated``:
    the batch failed as a whole and its requests were scored one by one;
    ``queue_seconds``: how long each of its requests waited for it)."""

    requests: int
    pairs: int
    seconds: float
    isolated: bool = False
    queue_seconds: tuple[float, ...] = ()


class Batcher(Generic[Job, Result]):
    """Collects jobs from concurrent coroutines and processes them in batches.

    ``process(jobs) -> [result | exception, ...]`` runs in the model thread;
    ``on_batch(stats)`` (optional) is called in the event loop after each batch and
    ``on_drop(reason)`` for each request dropped unscored. ``max_queue``: most waiting
    requests (None: no limit). Use ``await start()`` inside the running loop and
    ``await close()`` at shutdown."""

    def __init__(
        self,
        process: Callable[[list[Job]], Sequence[Result | BaseException]],
        *,
        max_batch_pairs: int,
        max_wait_s: float,
        max_queue: int | None = None,
        on_batch: Callable[[BatchStats], None] | None = None,
        on_drop: Callable[[str], None] | None = None,
    ):
        if max_batch_pairs < 1:
            raise ValueError(f"max_batch_pairs must be at least 1, got {max_batch_pairs}")
        if max_queue is not None and max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, got {max_queue}")
        self.process = process
        self.max_batch_pairs = max_batch_pairs
        self.max_wait_s = max(0.0, max_wait_s)
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.on_drop = on_drop
        self._queue: deque[_Item[Job]] = deque()
        self._arrived: asyncio.Event | None = None
        self._held: _Item[Job] | None = None  # the request that did not fit the last batch
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._running: list[_Item[Job]] = []  # the batch being scored
        self._batch_seconds = 0.0  # moving averages, for the wait a refused request is told
        self._batch_requests = 1.0

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rankwright-model")
        self._task = asyncio.create_task(self._run(), name="rankwright-batcher")

    async def close(self) -> None:
        """Stop the worker; requests still waiting fail with :class:`ShuttingDown`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.shed(ShuttingDown("the server is shutting down"))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def shed(self, error: BaseException) -> int:
        """Fail every request waiting or being scored with ``error`` (the model thread
        finishes its current call, whose results are then dropped); how many there were."""
        pending = [*self._running, *([self._held] if self._held else []), *self._queue]
        self._queue.clear()
        self._held = None
        failed = 0
        for item in pending:
            if not item.future.done():
                item.future.set_exception(error)
                failed += 1
        return failed

    @property
    def depth(self) -> int:
        """Requests waiting for a batch (not counting the ones being scored)."""
        return len(self._queue) + (self._held is not None)

    def estimated_wait_s(self) -> float:
        """Roughly how long the queue takes to drain, from recent batches."""
        batches = math.ceil(self.depth / max(1.0, self._batch_requests)) + bool(self._running)
        return batches * self._batch_seconds

    # -- use -------------------------------------------------------------------------------

    def waiting(self, in_flight: int) -> int:
        """Of ``in_flight`` requests admitted (being read, parsed, queued or scored), how
        many wait for a batch: all but those being scored (at least one: an idle worker
        takes the next request at once)."""
        return in_flight - max(len(self._running), 1)

    def full(self) -> bool:
        """Whether a new request would be refused (:class:`QueueFull`) now: ``max_queue``
        requests still wanted are waiting."""
        if self.max_queue is None or len(self._queue) < self.max_queue:
            return False
        self._purge()
        return len(self._queue) >= self.max_queue

    async def submit(self, job: Job, pairs: int, timeout_s: float | None = None) -> Result:
        """Queue ``job`` (``pairs`` pairs) and wait for its result (or its exception).
        Raises :class:`QueueFull` at once when ``max_queue`` requests wait. Cancelling
        the wait (e.g. ``asyncio.wait_for``), or ``timeout_s`` passing, drops the job if
        not yet started."""
        if self._arrived is None or self._task is None:
            raise RuntimeError("the batcher is not running: call start() first")
        if self.full():
            raise QueueFull(f"{len(self._queue)} requests are waiting, the most max_queue={self.max_queue} allows")
        loop = asyncio.get_running_loop()
        now = loop.time()
        future: asyncio.Future = loop.create_future()
        self._queue.append(_Item(job, pairs, future, now, None if timeout_s is None else now + timeout_s))
        self._arrived.set()
        return await future

    async def run_in_model_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the model thread (e.g. a warm-up), after what is queued there."""
        if self._executor is None:
            raise RuntimeError("the batcher is not running: call start() first")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- the worker ------------------------------------------------------------------------

    def _dropped(self, item: _Item[Job]) -> bool:
        """Whether ``item`` is no longer wanted (its deadline passed, or its caller gave
        up); if so it is dropped: its future fails, ``on_drop`` hears why."""
        expired = item.deadline is not None and asyncio.get_running_loop().time() >= item.deadline
        if not expired and not item.future.done():
            return False
        if not item.future.done():
            item.future.set_exception(TimeoutError("the request's deadline passed while it waited"))
        if self.on_drop is not None:
            try:
                self.on_drop("expired" if expired else "abandoned")
            except Exception:
                log.exception("on_drop failed")
        return True

    def _purge(self) -> None:
        """Drop the queued requests nobody waits for any more."""
        self._queue = deque(item for item in self._queue if not self._dropped(item))

    async def _next(self, deadline: float | None) -> _Item[Job] | None:
        """The next live item: the held one, a queued one, or one arriving before
        ``deadline`` (None: wait as long as it takes); None when the deadline passes."""
        assert self._arrived is not None
        loop = asyncio.get_running_loop()
        while True:
            if self._held is not None:
                item, self._held = self._held, None
            elif self._queue:
                item = self._queue.popleft()
            else:
                self._arrived.clear()
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return None
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except TimeoutError:
                    return None
                continue
            if not self._dropped(item):
                return item

    async def _collect(self) -> list[_Item[Job]]:
        """The next batch: the first live request, then more until ``max_wait_s`` has
        passed or the next one would exceed ``max_batch_pairs``."""
        first = await self._next(None)
        assert first is not None
        items, pairs = [first], first.pairs
        self._running = items  # collected requests are failed, not lost, if the worker stops here
        deadline = asyncio.get_running_loop().time() + self.max_wait_s
        while pairs < self.max_batch_pairs:
            item = await self._next(deadline)
            if item is None:
                break
            if pairs + item.pairs > self.max_batch_pairs:
                self._held = item
                break
            items.append(item)
            pairs += item.pairs
        return items

    async def _process(self, items: list[_Item[Job]]) -> list[Result | BaseException]:
        """``process`` of the items' jobs on the model thread; raises when it fails as a whole."""
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(self._executor, self.process, [i.job for i in items])
        if len(results) != len(items):
            raise RuntimeError(f"process returned {len(results)} results for {len(items)} jobs")
        return list(results)

    async def _process_isolating(self, items: list[_Item[Job]]) -> tuple[list[Result | BaseException], bool]:
        """``process`` of the batch; when it fails as a whole, of each job alone, so that
        only the jobs that fail alone get an error. Also: whether it went one by one."""
        try:
            return await self._process(items), False
        except Exception as err:
            if len(items) == 1:
                log.exception("scoring a request failed")
                return [err], False
            log.warning("a batch of %d requests failed (%r); scoring them one by one", len(items), err)
        results: list[Result | BaseException] = []
        for item in items:
            if self._dropped(item):  # its caller gave up meanwhile
                results.append(RuntimeError("abandoned"))
                continue
            try:
                results.extend(await self._process([item]))
            except Exception as err:
                log.exception("scoring a request alone failed")
                results.append(err)
        return results, True

    def _remember(self, stats: BatchStats) -> None:
        """Moving averages of batch seconds and requests (for :meth:`estimated_wait_s`)."""
        seconds = self._batch_seconds
        self._batch_seconds = stats.seconds if not seconds else 0.8 * seconds + 0.2 * stats.seconds
        self._batch_requests = 0.8 * self._batch_requests + 0.2 * stats.requests

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = await self._collect()
            items = [i for i in items if not self._dropped(i)]
            if not items:
                self._running = []
                continue
            start = time.perf_counter()
            waited = tuple(loop.time() - i.queued_at for i in items)
            self._running = items
            results, isolated = await self._process_isolating(items)
            self._running = []
            stats = BatchStats(len(items), sum(i.pairs for i in items), time.perf_counter() - start, isolated, waited)
            self._batch_seconds = (
                stats.seconds if not self._batch_seconds else 0.8 * self._batch_seconds + 0.2 * stats.seconds
            )
            self._batch_requests = 0.8 * self._batch_requests + 0.2 * stats.requests
            for item, result in zip(items, results, strict=True):
                if item.future.done():
                    continue
                if isinstance(result, BaseException):
                    item.future.set_exception(result)
                else:
                    item.future.set_result(result)
            if self.on_batch is not None:
                try:
                    self.on_batch(stats)
                except Exception:
                    log.exception("on_batch failed")
