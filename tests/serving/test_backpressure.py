"""Backpressure: a bounded queue answers a burst far above capacity with fast 503s
(with Retry-After) while every accepted request completes; requests whose deadline
passed in the queue are dropped unscored; a request whose deadline passed or whose
client left has the forward batches it has left skipped; the shed counter and the
time-in-queue histogram; the ``--max_queue_requests`` flag."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from rankwright.cli import build_parser
from rankwright.commands.serve import ServeConfig
from rankwright.config import build_config
from rankwright.inference.reranker import Reranker
from rankwright.serving import ServingConfig
from rankwright.serving.batcher import Batcher, QueueFull

DOCS = ["cordless drill", "three seat sofa", "garden hose", "drill bits", "desk lamp", "kettle"]


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class SlowForwards:
    """Makes each forward batch of ``reranker`` take ``delay`` seconds, and counts them."""

    def __init__(self, reranker: Reranker, delay: float):
        self.delay, self.calls, self._lock = delay, 0, threading.Lock()
        self._scores = reranker.head.scores
        reranker.head.scores = self

    def __call__(self, model, batch):
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        return self._scores(model, batch)


@pytest.fixture
def reranker(tiny_cross_encoder) -> Reranker:
    return Reranker.from_pretrained(tiny_cross_encoder)


def test_a_burst_above_capacity_gets_fast_503s_and_every_accepted_request_completes(reranker, serving):
    SlowForwards(reranker, delay=0.4)
    settings = dict(max_queue_requests=2, max_batch_pairs=len(DOCS), max_wait_ms=0, request_timeout_s=30)
    with serving(reranker, **settings) as base:

        async def one(client: httpx.AsyncClient, i: int) -> tuple[int, float, httpx.Response]:
            start = time.perf_counter()
            response = await client.post("/rerank", json={"query": f"drill {i}", "documents": DOCS})
            return response.status_code, time.perf_counter() - start, response

        async def burst():
            limits = httpx.Limits(max_connections=40)
            async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
                return await asyncio.gather(*(one(client, i) for i in range(30)))

        answers = asyncio.run(burst())
        health = httpx.get(f"{base}/health").json()
        metrics = httpx.get(f"{base}/metrics").text
    statuses = [status for status, _, _ in answers]
    shed = [(seconds, response) for status, seconds, response in answers if status == 503]
    assert set(statuses) == {200, 503}, statuses  # nothing timed out or failed
    # the queue's 2, plus one more when the first went to the model before the burst was all in
    assert statuses.count(200) >= 2 and len(shed) >= 10
    for seconds, response in shed:
        assert seconds < 5.0  # at once, not after request_timeout_s=30
        assert response.json()["error"] == "overloaded" and "max_queue=2" in response.json()["message"]
        assert int(response.headers["retry-after"]) >= 1
    assert metric(metrics, 'rankwright_shed_requests_total{reason="queue_full"}') == len(shed)
    assert metric(metrics, "rankwright_queue_seconds_count") == statuses.count(200)
    assert health["limits"]["max_queue_requests"] == 2


def test_a_full_queue_sheds_before_the_body_is_read(reranker, serving):
    SlowForwards(reranker, delay=1.0)
    settings = dict(max_queue_requests=1, max_batch_pairs=len(DOCS), max_wait_ms=0, request_timeout_s=30)
    with serving(reranker, **settings) as base:

        async def fill_then_probe():
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                body = {"query": "drill", "documents": DOCS}
                held = [asyncio.create_task(client.post("/rerank", json=body))]
                await asyncio.sleep(0.4)  # the first is being scored (1 s)
                held.append(asyncio.create_task(client.post("/rerank", json=body)))
                await asyncio.sleep(0.3)  # the second waits: the queue is full
                # not even JSON: a parsed body would be a 422; shed first, it is a 503
                probe = await client.post("/rerank", content=b"{not json", headers={"content-type": "application/json"})
                return probe, [r.status_code for r in await asyncio.gather(*held)]

        probe, held = asyncio.run(fill_then_probe())
    assert held == [200, 200]
    assert probe.status_code == 503 and probe.json()["error"] == "overloaded"
    assert "max_queue=1" in probe.json()["message"] and int(probe.headers["retry-after"]) >= 1


def test_requests_past_their_deadline_are_dropped_from_the_queue_unscored(reranker, serving):
    forwards = SlowForwards(reranker, delay=0.8)
    settings = dict(max_batch_pairs=len(DOCS), max_wait_ms=0, request_timeout_s=0.4)
    with serving(reranker, **settings) as base:
        forwards.calls = 0  # the warm-up

        async def three():
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                return await asyncio.gather(
                    *(client.post("/rerank", json={"query": "q", "documents": DOCS}) for _ in range(3))
                )

        responses = asyncio.run(three())
        time.sleep(1.0)  # the first batch ends; the worker reaches the expired two
        metrics = httpx.get(f"{base}/metrics").text
        forwards.delay = 0.0
        after = httpx.post(f"{base}/rerank", json={"query": "q", "documents": DOCS}, timeout=30)
    assert [r.status_code for r in responses] == [504, 504, 504]
    assert forwards.calls == 2  # the first request only (then the one after): the other two were never scored
    assert metric(metrics, 'rankwright_shed_requests_total{reason="expired"}') == 2
    assert after.status_code == 200


@pytest.mark.parametrize("leave", ["deadline", "disconnect"])
def test_the_remaining_forward_batches_of_a_request_nobody_waits_for_are_skipped(reranker, serving, leave):
    forwards = SlowForwards(reranker, delay=0.25)
    docs = [f"{d} {i}" for i in range(2) for d in DOCS][:10]  # 5 forward batches of 2
    timeout = 0.6 if leave == "deadline" else 30
    with serving(reranker, batch_size=2, request_timeout_s=timeout, max_wait_ms=0) as base:
        forwards.calls = 0
        try:
            response = httpx.post(
                f"{base}/rerank", json={"query": "q", "documents": docs}, timeout=0.6 + 30 * (leave == "deadline")
            )
            status = response.status_code
        except httpx.ReadTimeout:
            status = None  # the client left
        time.sleep(1.5)  # long enough for all five batches, had they run
        skipped = 5 - forwards.calls
        forwards.delay = 0.0
        after = httpx.post(f"{base}/rerank", json={"query": "q", "documents": docs}, timeout=30)
    assert status == (504 if leave == "deadline" else None)
    assert skipped >= 1, forwards.calls  # not every batch ran
    assert after.status_code == 200


def test_the_queue_limit_is_a_serve_flag_and_must_be_positive():
    args = build_parser().parse_args(["serve", "m", "--max_queue_requests", "5"])
    assert build_config(ServeConfig, args).max_queue_requests == 5
    assert ServingConfig().max_queue_requests == 64
    with pytest.raises(ValueError, match="max_queue_requests must be at least 1"):
        ServingConfig(max_queue_requests=0).check()


def test_the_batcher_refuses_at_once_when_full_and_drops_expired_jobs():
    batches: list[list[str]] = []
    drops: list[str] = []

    def process(jobs):
        batches.append(list(jobs))
        time.sleep(0.3)
        return [j.upper() for j in jobs]

    async def main():
        batcher = Batcher(process, max_batch_pairs=1, max_wait_s=0.0, max_queue=2, on_drop=drops.append)
        await batcher.start()
        first = asyncio.create_task(batcher.submit("a", 1))
        await asyncio.sleep(0.05)  # "a" is being scored
        late = asyncio.create_task(batcher.submit("b", 1, timeout_s=0.1))  # expires while it waits
        kept = asyncio.create_task(batcher.submit("c", 1))
        await asyncio.sleep(0)
        start = time.perf_counter()
        with pytest.raises(QueueFull, match="max_queue=2"):
            await batcher.submit("d", 1)
        refused_in = time.perf_counter() - start
        results = await asyncio.gather(first, late, kept, return_exceptions=True)
        await batcher.close()
        return refused_in, results

    refused_in, (a, b, c) = asyncio.run(main())
    assert refused_in < 0.05 and (a, c) == ("A", "C")
    assert isinstance(b, TimeoutError)
    assert batches == [["a"], ["c"]] and drops == ["expired"]
