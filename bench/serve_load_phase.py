"""A load phase of ``serve_load.py``: N concurrent clients sending requests back to back
(some bad, with ``bad_every``) while /health is polled, and what came back: latency
percentiles, throughput, errors, the 4xx of every bad request, and the server's own
batch statistics from /metrics."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import httpx
import numpy as np
from serve_load_requests import bad_requests


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    documents: int = 0
    good_ok: int = 0
    good_failed: list[str] = field(default_factory=list)
    bad: dict[str, dict[str, int]] = field(default_factory=dict)
    bad_wrong: list[str] = field(default_factory=list)
    health: list[float] = field(default_factory=list)
    health_failed: int = 0
    bad_sent: int = 0


async def client_loop(
    client: httpx.AsyncClient,
    bodies: list[dict],
    deadline: float,
    tally: Tally,
    worker: int,
    clients: int,
    bad_every: int,
) -> None:
    """One client: send requests back to back until ``deadline``; with ``bad_every``,
    every ``bad_every``-th of this client's requests is a bad one (kinds in turn)."""
    k = 0
    while time.perf_counter() < deadline:
        body = bodies[(worker + k * clients) % len(bodies)]
        is_bad = bad_every > 0 and (k + worker) % bad_every == bad_every - 1
        if is_bad:
            cases = bad_requests(body)
            kind, content, expected = cases[tally.bad_sent % len(cases)]  # kinds in turn across clients
            tally.bad_sent += 1
        else:
            content, expected, kind = json.dumps(body).encode(), 200, "good"
        k += 1
        start = time.perf_counter()
        try:
            response = await client.post("/rerank", content=content, headers={"content-type": "application/json"})
            status = response.status_code
        except httpx.HTTPError as err:
            status, response = -1, None
            detail = f"{type(err).__name__}: {err}"
        seconds = time.perf_counter() - start
        if not is_bad:
            if status == 200 and len(response.json()["results"]) == len(body["documents"]):
                tally.good_ok += 1
                tally.latencies.append(seconds)
                tally.documents += len(body["documents"])
            else:
                tally.good_failed.append(f"{status}: {response.text[:200] if response is not None else detail}")
        else:
            counts = tally.bad.setdefault(kind, {"sent": 0, "expected_status": expected, "got_expected": 0})
            counts["sent"] += 1
            if status == expected:
                counts["got_expected"] += 1
            else:
                tally.bad_wrong.append(f"{kind}: got {status}, expected {expected}")


async def health_loop(client: httpx.AsyncClient, deadline: float, tally: Tally) -> None:
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        try:
            ok = (await client.get("/health")).status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            tally.health.append(time.perf_counter() - start)
        else:
            tally.health_failed += 1
        await asyncio.sleep(0.5)


def percentiles_ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    ms = np.asarray(values) * 1000
    return {
        "p50": round(float(np.percentile(ms, 50)), 1),
        "p95": round(float(np.percentile(ms, 95)), 1),
        "p99": round(float(np.percentile(ms, 99)), 1),
        "mean": round(float(ms.mean()), 1),
        "max": round(float(ms.max()), 1),
    }


def scrape(base: str) -> dict[str, float]:
    """The server's unlabelled counters and histogram sums/counts from /metrics."""
    out = {}
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("rankwright_") and "{" not in line.split(" ")[0]:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def batch_stats(before: dict[str, float], after: dict[str, float]) -> dict[str, float | None]:
    calls = after["rankwright_batch_requests_count"] - before.get("rankwright_batch_requests_count", 0)
    if not calls:
        return {"model_calls": 0, "mean_requests_per_call": None, "mean_pairs_per_call": None}
    requests = after["rankwright_batch_requests_sum"] - before.get("rankwright_batch_requests_sum", 0)
    pairs = after["rankwright_batch_pairs_sum"] - before.get("rankwright_batch_pairs_sum", 0)
    seconds = after["rankwright_batch_seconds_sum"] - before.get("rankwright_batch_seconds_sum", 0)
    return {
        "model_calls": int(calls),
        "mean_requests_per_call": round(requests / calls, 2),
        "mean_pairs_per_call": round(pairs / calls, 1),
        "mean_model_call_ms": round(seconds / calls * 1000, 1),
    }


async def run_phase(base: str, bodies: list[dict], clients: int, seconds: float, bad_every: int) -> dict:
    tally = Tally()
    before = scrape(base)
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(
            health_loop(client, deadline, tally),
            *(client_loop(client, bodies, deadline, tally, w, clients, bad_every) for w in range(clients)),
        )
        wall = time.perf_counter() - start
        health_after = (await client.get("/health")).status_code
    after = scrape(base)
    result = {
        "seconds": round(wall, 2),
        "clients": clients,
        "good_requests": tally.good_ok + len(tally.good_failed),
        "good_200": tally.good_ok,
        "errors": len(tally.good_failed),
        "error_examples": tally.good_failed[:5],
        "latency_ms": percentiles_ms(tally.latencies),
        "requests_per_s": round(tally.good_ok / wall, 2),
        "documents_per_s": round(tally.documents / wall, 1),
        "server_batches": batch_stats(before, after),
        "health_polls": {
            "ok": len(tally.health),
            "failed": tally.health_failed,
            "latency_ms": percentiles_ms(tally.health),
            "after_phase_status": health_after,
        },
    }
    if bad_every:
        sent = sum(c["sent"] for c in tally.bad.values())
        result["bad_requests"] = {
            "sent": sent,
            "got_expected_4xx": sum(c["got_expected"] for c in tally.bad.values()),
            "by_kind": tally.bad,
            "wrong": tally.bad_wrong[:10],
        }
        result["all_bad_got_4xx"] = not tally.bad_wrong and sent > 0
        result["all_good_got_200"] = not tally.good_failed and tally.good_ok > 0
    return result
