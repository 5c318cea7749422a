"""The app's lifecycle: ``/ready`` is 503 while the model warms up and 200 after (a
request sent meanwhile waits and is scored); a failed warm-up is reported and stops the
server; a drain (SIGTERM) answers new requests 503 at once, lets the ones in flight
finish, sheds the rest when the grace period ends, and stops the server."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import httpx
import pytest
import uvicorn

from rankwright.inference.reranker import Reranker
from rankwright.serving import ServingConfig, create_app
from rankwright.serving.batcher import ShuttingDown
from rankwright.serving.lifecycle import Lifecycle
from rankwright.serving.server import DrainingServer

DOCS = ["cordless drill", "three seat sofa", "garden hose", "drill bits"]
REQUEST = {"query": "drill", "documents": DOCS}


class GatedReranker:
    """A reranker whose model calls wait for ``gate`` (after ``free`` calls), or fail."""

    def __init__(self, inner: Reranker, free: int = 0, error: Exception | None = None):
        self._inner, self.free, self.error = inner, free, error
        self.gate, self.entered, self.calls = threading.Event(), threading.Event(), 0

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def _call(self) -> None:
        self.calls += 1
        if self.calls > self.free:
            self.entered.set()
            assert self.gate.wait(30), "the test never opened the gate"
        if self.error is not None:
            raise self.error

    def logits(self, queries, docs, **kwargs):  # the warm-up
        self._call()
        return self._inner.logits(queries, docs, **kwargs)

    def logits_of_features(self, features, **kwargs):  # requests
        self._call()
        return self._inner.logits_of_features(features, **kwargs)


@pytest.fixture(scope="module")
def reranker(tiny_cross_encoder) -> Reranker:
    return Reranker.from_pretrained(tiny_cross_encoder)


def draining_server(app) -> DrainingServer:
    return DrainingServer(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))


def test_ready_is_503_during_the_warm_up_and_200_after(reranker, running):
    gated = GatedReranker(reranker)
    app = create_app(gated, ServingConfig(name="tiny"))
    with running(app, wait_ready=False) as base, httpx.Client(base_url=base, timeout=30) as client:
        assert gated.entered.wait(30)
        ready, health = client.get("/ready"), client.get("/health")
        assert ready.status_code == 503 and ready.json() == {"ready": False, "status": "starting"}
        assert health.status_code == 503 and health.json()["status"] == "starting"
        early = threading.Thread(target=lambda: results.append(client.post("/rerank", json=REQUEST)))
        results: list[httpx.Response] = []
        early.start()
        time.sleep(0.2)
        assert not results  # it waits behind the warm-up
        gated.gate.set()
        early.join(30)
        assert results[0].status_code == 200 and len(results[0].json()["results"]) == len(DOCS)
        ready = client.get("/ready")
        assert ready.status_code == 200 and ready.json() == {"ready": True, "status": "ok"}
        assert client.get("/health").json()["status"] == "ok"


def test_a_failed_warm_up_is_reported_and_stops_the_server(reranker, running):
    failing = GatedReranker(reranker, error=RuntimeError("no memory"))
    failing.gate.set()
    app = create_app(failing, ServingConfig())
    with running(app) as base:  # a plain uvicorn server keeps answering
        health, ready = httpx.get(f"{base}/health"), httpx.get(f"{base}/ready")
    assert health.status_code == 503 and health.json()["status"] == "failed"
    assert health.json()["error"] == "the warm-up failed: RuntimeError: no memory"
    assert ready.status_code == 503 and ready.json() == {"ready": False, "status": "failed"}
    failing = GatedReranker(reranker, error=RuntimeError("no memory"))
    app = create_app(failing, ServingConfig())
    server = draining_server(app)
    with running(app, server=server, wait_ready=False):
        failing.gate.set()
        deadline = time.monotonic() + 10
        while not server.should_exit and time.monotonic() < deadline:
            time.sleep(0.01)
    assert server.should_exit and str(server.failed) == "no memory"


def test_sigterm_drains_new_requests_get_503_and_the_one_in_flight_finishes(reranker, running):
    gated = GatedReranker(reranker, free=1)  # the warm-up passes, the first request waits
    app = create_app(gated, ServingConfig(grace_period=30))
    server = draining_server(app)
    with running(app, server=server) as base, httpx.Client(base_url=base, timeout=30) as client:
        in_flight: list[httpx.Response] = []
        sender = threading.Thread(target=lambda: in_flight.append(httpx.post(f"{base}/rerank", json=REQUEST)))
        sender.start()
        assert gated.entered.wait(30)
        server.handle_exit(signal.SIGTERM, None)
        deadline = time.monotonic() + 5
        while app.state.lifecycle.state != "draining" and time.monotonic() < deadline:
            time.sleep(0.01)
        health, ready = client.get("/health"), client.get("/ready")
        refused = client.post("/rerank", json=REQUEST)
        gated.gate.set()
        sender.join(30)
        deadline = time.monotonic() + 10
        while not server.should_exit and time.monotonic() < deadline:
            time.sleep(0.01)
    assert health.status_code == 503 and health.json()["status"] == "draining"
    assert ready.status_code == 503 and ready.json() == {"ready": False, "status": "draining"}
    assert refused.status_code == 503 and refused.json()["error"] == "shutting_down"
    assert refused.headers["retry-after"] == "1" and refused.headers["connection"] == "close"
    assert in_flight[0].status_code == 200, in_flight[0].text
    assert len(in_flight[0].json()["results"]) == len(DOCS)
    assert server.should_exit and server.failed is None


def test_requests_left_when_the_grace_period_ends_get_503(reranker, running):
    gated = GatedReranker(reranker, free=1)
    app = create_app(gated, ServingConfig(grace_period=0.3, max_wait_ms=0, max_batch_pairs=len(DOCS)))
    server = draining_server(app)
    with running(app, server=server) as base:

        async def two():
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                return await asyncio.gather(*(client.post("/rerank", json=REQUEST) for _ in range(2)))

        answers: list = []
        sender = threading.Thread(target=lambda: answers.extend(asyncio.run(two())))
        sender.start()
        assert gated.entered.wait(30)
        time.sleep(0.1)  # the second request is queued behind the first
        start = time.monotonic()
        server.handle_exit(signal.SIGTERM, None)
        sender.join(30)
        answered = time.monotonic() - start
        gated.gate.set()
    assert [a.status_code for a in answers] == [503, 503], [a.text for a in answers]
    for answer in answers:
        assert answer.json()["error"] == "shutting_down" and "grace period (0.3 s)" in answer.json()["message"]
    assert answered < 3.0


def test_draining_server_signals():
    server = DrainingServer(uvicorn.Config(app=None))
    server.handle_exit(signal.SIGTERM, None)
    assert server.drain_requested and not server.should_exit
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit and not server.force_exit
    server.handle_exit(signal.SIGINT, None)
    assert server.force_exit
    worker = DrainingServer(uvicorn.Config(app=None), ignore_sigint=True)
    worker.handle_exit(signal.SIGINT, None)
    assert not worker.drain_requested
    worker.handle_exit(signal.SIGTERM, None)
    assert worker.drain_requested


def test_a_drain_without_requests_in_flight_ends_at_once():
    shed: list[BaseException] = []
    lifecycle = Lifecycle(grace_period=10, shed=lambda error: shed.append(error) or 0)
    lifecycle.set_ready()
    start = time.monotonic()
    asyncio.run(lifecycle.drain())
    assert time.monotonic() - start < 0.5 and lifecycle.draining and not lifecycle.ready and not shed


def test_a_drain_sheds_what_is_left_after_the_grace_period():
    lifecycle = Lifecycle(grace_period=0.1, shed=lambda error: shed.append(error) or 1)
    shed: list[BaseException] = []

    async def main():
        with lifecycle.request():
            await lifecycle.drain()

    asyncio.run(main())
    assert len(shed) == 1 and isinstance(shed[0], ShuttingDown)
