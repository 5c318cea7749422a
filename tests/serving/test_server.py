"""The server's connections: a half-sent request, or a connection that sends nothing,
is closed within ``timeout_read``; a whole request on another connection is served
meanwhile; idle keep-alive connections close after ``timeout_keep_alive``; past
``limit_concurrency`` uvicorn answers 503. Workers: two processes answer on one port and
exit 0 on SIGTERM; workers that fail to start stop the parent (exit 1). And the serve
command's flags reach uvicorn (``ServerConfig``) and torch (threads)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
import torch

from rankwright.cli import build_parser
from rankwright.commands.serve import ServeConfig, load_reranker, server_settings, threads_per_worker
from rankwright.config import build_config
from rankwright.inference.reranker import Reranker
from rankwright.serving import ServingConfig, create_app
from rankwright.serving.server import DrainingServer, ReadTimeoutH11Protocol, ServerConfig

REQUEST = {"query": "drill", "documents": ["cordless drill", "sofa"]}


@pytest.fixture(scope="module")
def reranker(tiny_cross_encoder) -> Reranker:
    return Reranker.from_pretrained(tiny_cross_encoder)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(base: str) -> socket.socket:
    url = urlparse(base)
    return socket.create_connection((url.hostname, url.port), timeout=10)


def closed_after(sock: socket.socket) -> float:
    """Seconds until the server closes ``sock`` (reading whatever it sends)."""
    start = time.monotonic()
    while sock.recv(65536):
        pass
    return time.monotonic() - start


def test_half_sent_and_silent_connections_are_closed_within_the_read_timeout(reranker, running):
    app = create_app(reranker, ServingConfig())
    config = ServerConfig(app, host="127.0.0.1", port=0, log_level="warning", timeout_read=0.5, timeout_keep_alive=1)
    with running(app, server=DrainingServer(config)) as base:
        half_headers, half_body, silent, idle = (connect(base) for _ in range(4))
        half_headers.sendall(b"POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        half_body.sendall(b"POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n" + b'{"query": "dr')
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")  # answered, then idle (keep-alive)
        time.sleep(0.1)
        whole = httpx.post(f"{base}/rerank", json=REQUEST)  # a whole request meanwhile is served
        waited = [closed_after(s) for s in (half_headers, half_body, silent)]
        idle_for = closed_after(idle)
        for s in (half_headers, half_body, silent, idle):
            s.close()
    assert whole.status_code == 200
    assert all(w < 2.0 for w in waited), waited  # 0.5 s after connecting or the first byte, not never
    assert idle_for < 2.5


def test_past_limit_concurrency_uvicorn_answers_503(reranker, running):
    app = create_app(reranker, ServingConfig())
    config = ServerConfig(app, host="127.0.0.1", port=0, log_level="warning", limit_concurrency=2)
    with running(app, server=DrainingServer(config)) as base:
        held = [connect(base) for _ in range(2)]
        time.sleep(0.1)
        refused = httpx.post(f"{base}/rerank", json=REQUEST)
        for s in held:
            s.close()
        time.sleep(0.1)
        served = httpx.post(f"{base}/rerank", json=REQUEST)
    assert refused.status_code == 503 and served.status_code == 200


def test_the_flags_reach_uvicorn():
    args = ["serve", "m", "--workers", "3", "--threads", "2", "--timeout_keep_alive", "7", "--read_timeout_s", "4.5"]
    config = build_config(ServeConfig, build_parser().parse_args([*args, "--limit_concurrency", "50"]))
    assert (config.workers, config.threads, config.timeout_keep_alive) == (3, 2, 7)
    uvicorn_config = ServerConfig("rankwright.commands.serve:app_from_env", factory=True, **server_settings(config))
    assert (uvicorn_config.timeout_keep_alive, uvicorn_config.timeout_read) == (7, 4.5)
    assert uvicorn_config.limit_concurrency == 50 and uvicorn_config.http is ReadTimeoutH11Protocol
    assert uvicorn_config.timeout_graceful_shutdown == 5
    unlimited = server_settings(ServeConfig(model="m", read_timeout_s=0, limit_concurrency=0))
    assert unlimited["timeout_read"] is None and unlimited["limit_concurrency"] is None
    for bad in (["--workers", "0"], ["--threads", "-1"], ["--read_timeout_s", "-1"]):
        with pytest.raises(ValueError, match=bad[0].lstrip("-")):
            build_config(ServeConfig, build_parser().parse_args(["serve", "m", *bad])).check()


def test_threads_per_worker_and_torch(tiny_cross_encoder, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert threads_per_worker(ServeConfig(model="m")) is None
    assert threads_per_worker(ServeConfig(model="m", workers=2)) == 4
    assert threads_per_worker(ServeConfig(model="m", workers=16)) == 1
    assert threads_per_worker(ServeConfig(model="m", workers=2, threads=3)) == 3
    before = torch.get_num_threads()
    try:
        load_reranker(ServeConfig(model=tiny_cross_encoder, threads=1))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


WORKERS = """
import sys
from rankwright.serving.server import ServerConfig, run_workers
config = ServerConfig(sys.argv[1], factory=True, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
sys.exit(run_workers(config, 2))
"""


def start_workers(app: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", WORKERS, app, str(port)], env=env, stderr=subprocess.PIPE)


def test_workers_serve_on_one_port_and_drain_on_sigterm():
    port = free_port()
    parent = start_workers("starlette.applications:Starlette", port)  # a light app: 404 everywhere
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/x", timeout=2)
                break
            except httpx.TransportError:
                assert parent.poll() is None and time.monotonic() < deadline, parent.stderr.read().decode()
                time.sleep(0.2)
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=60) == 0, parent.stderr.read().decode()
    finally:
        if parent.poll() is None:
            parent.kill()
    assert answer.status_code == 404
    with pytest.raises(httpx.ConnectError):  # no worker holds the port any more
        httpx.get(f"http://127.0.0.1:{port}/x", timeout=2)


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT on this system")
def test_each_worker_gets_its_own_socket_and_the_kernel_spreads_connections():
    import selectors

    from rankwright.serving.server import ServerConfig, worker_sockets

    config = ServerConfig("starlette.applications:Starlette", factory=True, host="127.0.0.1", port=0)
    sockets = worker_sockets(config, 2)
    clients = []
    try:
        assert sockets[0] is not sockets[1]
        assert sockets[0].getsockname() == sockets[1].getsockname()  # one port
        for sock in sockets:
            sock.setblocking(False)
        accepted = dict.fromkeys(range(2), 0)
        selector = selectors.DefaultSelector()
        for i, sock in enumerate(sockets):
            selector.register(sock, selectors.EVENT_READ, i)
        for _ in range(40):
            clients.append(socket.create_connection(sockets[0].getsockname(), timeout=5))
        deadline = time.monotonic() + 10
        while sum(accepted.values()) < 40 and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                conn, _ = key.fileobj.accept()
                conn.close()
                accepted[key.data] += 1
        assert sum(accepted.values()) == 40
        assert min(accepted.values()) >= 5, accepted  # both take connections (by hash: about half each)
    finally:
        for c in clients:
            c.close()
        for sock in sockets:
            sock.close()


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc to see the workers spawn")
def test_a_sigterm_while_workers_start_stops_the_parent_with_0():
    # workers still importing (spawn) die of the forwarded SIGTERM: nothing to drain, a clean stop
    parent = start_workers("starlette.applications:Starlette", free_port())
    try:
        children = f"/proc/{parent.pid}/task/{parent.pid}/children"
        deadline = time.monotonic() + 60
        while not Path(children).read_text().split():  # the workers are spawned, not serving yet
            assert parent.poll() is None and time.monotonic() < deadline, parent.stderr.read().decode()
            time.sleep(0.01)
        time.sleep(0.05)  # the parent's handlers are installed right after the workers start
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=60) == 0, parent.stderr.read().decode()
    finally:
        if parent.poll() is None:
            parent.kill()


def test_workers_that_fail_to_start_stop_the_parent_with_1():
    parent = start_workers("rankwright.no_such_module:app", free_port())
    try:
        assert parent.wait(timeout=60) == 1
    finally:
        if parent.poll() is None:
            parent.kill()
