"""Waiting for a queued request's result while watching its client and its deadline.

:func:`await_scored` returns the result of the batcher's future, raises ``TimeoutError``
when the deadline passes and :class:`ClientGone` when the client disconnects (the ASGI
``http.disconnect`` message, awaited once the body has been read); either way the wait
is cancelled and the job marked abandoned, so the batcher drops it from the queue and
the model thread skips the forward batches it has left."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected before its request was scored."""


async def until_disconnected(receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
    """Return when ``receive`` (an ASGI receive whose body was read) says the client left."""
    while (await receive()).get("type") != "http.disconnect":
        pass


async def await_scored(
    waiting: Awaitable[T], *, timeout_s: float, disconnected: Awaitable[None], cancelled: threading.Event
) -> T:
    """The result of ``waiting`` (see the module docstring); ``cancelled`` is set when
    the wait ends without it."""
    task = asyncio.ensure_future(waiting)
    watcher = asyncio.ensure_future(disconnected)
    try:
        done, _ = await asyncio.wait({task, watcher}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        if watcher in done and watcher.exception() is None:
            raise ClientGone
        raise TimeoutError
    finally:
        for pending in (task, watcher):
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending
        if not task.done() or task.cancelled():
            cancelled.set()
