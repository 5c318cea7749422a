"""Open-loop phases of ``serve_load.py``: requests arrive at a fixed rate whatever is in
flight (steady load at a share of the measured capacity), or all at once (a burst), and
what came back: answers by status, latency of the accepted ones (200) and of the shed
ones (503), time to the first 503, requests/s and pairs/s; and the server's memory
(RSS of the server process and its worker processes, from /proc)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from pathlib import Path

import httpx
from serve_load_phase import percentiles_ms


async def _one(client: httpx.AsyncClient, body: dict, phase_start: float) -> tuple[int, float, float, int]:
    """(status, latency s, seconds from the phase start to the answer, pairs)."""
    start = time.perf_counter()
    try:
        status = (
            await client.post(
                "/rerank", content=json.dumps(body).encode(), headers={"content-type": "application/json"}
            )
        ).status_code
    except httpx.HTTPError:
        status = -1  # a transport error: no answer
    end = time.perf_counter()
    return status, end - start, end - phase_start, len(body["documents"])


async def open_loop(
    base: str, bodies: list[dict], rate: float, seconds: float, first: int = 0, timeout_s: float = 120
) -> dict:
    """Send ``rate * seconds`` requests evenly spaced over ``seconds``, each as it comes
    due, whatever is in flight; the summary."""
    count = max(1, round(rate * seconds))
    limits = httpx.Limits(max_connections=count + 4, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=timeout_s, limits=limits) as client:
        start = time.perf_counter()
        tasks = []
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(_one(client, bodies[(first + i) % len(bodies)], start)))
        answers = await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    return summarize(answers, wall, rate, count)


async def _raw_exchange(host: str, port: int, request: bytes, pairs: int, ready: asyncio.Event, start: list[float]):
    """One connection, opened before the burst; the request is written when ``ready`` is
    set, and timed from that write to the end of the answer: (status, latency s, seconds
    from the burst's start to the answer, pairs)."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        await ready.wait()
        return -1, 0.0, 0.0, pairs
    await ready.wait()
    sent = time.perf_counter()
    try:
        writer.write(request)
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
        status = -1
    end = time.perf_counter()
    writer.close()
    return status, end - sent, end - start[0], pairs


async def burst(base: str, bodies: list[dict], count: int) -> dict:
    """``count`` requests at once, on connections opened beforehand and written as raw
    HTTP/1.1 bytes built beforehand: a load generator light enough that its own work
    (an HTTP client's per-request Python) does not become the latency it measures."""
    url = httpx.URL(base)
    host, port = url.host, url.port or 80
    requests = []
    for i in range(count):
        body = json.dumps(bodies[i % len(bodies)]).encode()
        head = (
            f"POST /rerank HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        requests.append((head.encode() + body, len(bodies[i % len(bodies)]["documents"])))
    ready, start = asyncio.Event(), [0.0]
    tasks = [asyncio.create_task(_raw_exchange(host, port, r, n, ready, start)) for r, n in requests]
    await asyncio.sleep(0.5 + count / 500)  # let every connection open
    start[0] = time.perf_counter()
    ready.set()
    answers = await asyncio.gather(*tasks)
    return summarize(answers, time.perf_counter() - start[0], None, count)


def summarize(answers: list[tuple[int, float, float, int]], wall: float, rate: float | None, count: int) -> dict:
    statuses = Counter(status for status, *_ in answers)
    accepted = [seconds for status, seconds, _, _ in answers if status == 200]
    shed = [seconds for status, seconds, _, _ in answers if status == 503]
    first_503 = min((at for status, _, at, _ in answers if status == 503), default=None)
    pairs = sum(p for status, _, _, p in answers if status == 200)
    return {
        "offered_requests_per_s": None if rate is None else round(rate, 2),
        "sent": count,
        "seconds": round(wall, 2),
        "by_status": {str(k): v for k, v in sorted(statuses.items())},
        "requests_per_s": round(len(accepted) / wall, 2),
        "pairs_per_s": round(pairs / wall, 1),
        "accepted_latency_ms": percentiles_ms(accepted),
        "shed": len(shed),
        "shed_latency_ms": percentiles_ms(shed),
        "time_to_first_503_s": None if first_503 is None else round(first_503, 3),
    }


def _ppid(pid: str) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def server_rss_mb(pid: int) -> dict[str, float] | None:
    """RSS (MB) of the server process and of its child processes (workers), or None
    where /proc is missing."""
    if not Path("/proc").is_dir():
        return None
    children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(p) == pid]
    per = {"server": round(_rss_mb(pid), 1), **{f"child_{c}": round(_rss_mb(c), 1) for c in children}}
    return {**per, "total": round(sum(per.values()), 1)}


async def soak(base: str, bodies: list[dict], rate: float, seconds: float, pid: int, every_s: float = 30.0) -> dict:
    """Open-loop load at ``rate`` for ``seconds`` in slices of ``every_s``, with the
    server's RSS after each: whether memory grows under steady load."""
    slices, samples, first = [], [server_rss_mb(pid)], 0
    remaining = seconds
    while remaining > 0:
        part = min(every_s, remaining)
        slices.append(await open_loop(base, bodies, rate, part, first=first))
        first += max(1, round(rate * part))
        samples.append(server_rss_mb(pid))
        remaining -= part
    totals = [s["total"] for s in samples if s]
    statuses: Counter = Counter()
    for s in slices:
        statuses.update(s["by_status"])
    return {
        "offered_requests_per_s": round(rate, 2),
        "seconds": seconds,
        "by_status": dict(statuses),
        "rss_total_mb": totals,
        "rss_growth_mb": round(totals[-1] - totals[1], 1) if len(totals) > 2 else None,  # after the first slice
        "accepted_latency_p99_ms_by_slice": [s["accepted_latency_ms"]["p99"] for s in slices],
    }
