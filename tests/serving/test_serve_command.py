"""``rankwright serve``: flags build a ServeConfig, the backend keyword, and the real
command in a subprocess (polled on /health, then asked to rerank, with one JSON log
line per request on stderr; SIGTERM while a request is in flight: /health says
draining, new requests get 503, the one in flight its 200, and the process exits 0)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest
import torch

from rankwright.cli import build_parser
from rankwright.cli import main as cli
from rankwright.commands.serve import ServeConfig, load_reranker
from rankwright.config import ConfigError, build_config
from rankwright.inference.reranker import Reranker
from rankwright.serving import ServingConfig


def test_flags_build_the_serve_config():
    args = build_parser().parse_args(
        ["serve", "--model", "m", "--port", "9123", "--max_documents", "50", "--max_wait_ms", "2.5", "--api_key", "k"]
    )
    config = build_config(ServeConfig, args)
    assert isinstance(config, ServingConfig)
    assert (config.model, config.host, config.port) == ("m", "127.0.0.1", 9123)
    assert (config.max_documents, config.max_wait_ms, config.api_key, config.backend) == (50, 2.5, "k", "torch")


def test_the_model_is_also_the_positional_argument():
    config = build_config(ServeConfig, build_parser().parse_args(["serve", "runs/hd/best", "--port", "9"]))
    assert (config.model, config.port) == ("runs/hd/best", 9)
    with pytest.raises(ConfigError, match="not both"):
        build_config(ServeConfig, build_parser().parse_args(["serve", "a", "--model", "b"]))


def test_serve_without_a_model_or_with_bad_settings_is_an_error(tiny_cross_encoder, monkeypatch, caplog):
    import rankwright.serving.server as server_module

    served = []

    class FakeServer:  # records what would be served instead of blocking on a port
        failed = None

        def __init__(self, config, ignore_sigint=False):
            served.append(config)

        def run(self):
            pass

    monkeypatch.setattr(server_module, "DrainingServer", FakeServer)

    def errors() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]

    with caplog.at_level(logging.INFO):
        assert cli(["serve"]) == 2
    assert len(errors()) == 1 and "serve needs a model" in errors()[0]
    assert served == []

    # the same real model with good settings gets as far as the server ...
    caplog.clear()
    assert cli(["serve", "--model", tiny_cross_encoder, "--port", "0", "--max_documents", "1"]) == 0
    assert len(served) == 1 and errors() == []

    # ... so with --max_documents 0 only the setting stops it, and the error names it
    caplog.clear()
    with caplog.at_level(logging.INFO):
        code = cli(["serve", "--model", tiny_cross_encoder, "--port", "0", "--max_documents", "0"])
    assert code == 2
    assert errors() == ["max_documents must be at least 1, got 0"]
    assert len(served) == 1  # nothing more was served


def test_load_reranker_serves_the_onnx_export_with_the_torch_scores(tiny_cross_encoder, tmp_path):
    from rankwright.inference.onnx_backend import export_onnx

    folder = tmp_path / "model"
    shutil.copytree(tiny_cross_encoder, folder)
    export_onnx(str(folder), folder, int8=False)
    threads = torch.get_num_threads()
    try:
        onnx = load_reranker(ServeConfig(model=str(folder), backend="onnx", max_length=24, threads=1))
    finally:
        torch.set_num_threads(threads)
    torch_model = load_reranker(ServeConfig(model=str(folder), max_length=24))
    assert type(onnx.model).__name__ == "OnnxSequenceClassifier" and onnx.metadata.max_length == 24
    assert onnx.model.threads == 1  # --threads reaches ONNX Runtime's intra-op threads
    docs = ["cordless drill kit", "garden hose", "a much longer text about a white ceiling fan with a light kit"]
    np.testing.assert_allclose(onnx.logits("drill", docs), torch_model.logits("drill", docs), atol=1e-5)
    with pytest.raises(FileNotFoundError, match="rankwright export --onnx true --int8 true"):
        load_reranker(ServeConfig(model=str(folder), backend="onnx-int8"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(model: str, log_path, *flags: str) -> tuple[subprocess.Popen, str]:
    """``rankwright serve model --port <free> *flags`` in a subprocess (stderr to
    ``log_path``), once ``/health`` answers 200; the process and its base URL."""
    port = _free_port()
    command = [sys.executable, "-m", "rankwright.cli", "serve", model, "--port", str(port), *flags]
    env = {**os.environ, "RANKWRIGHT_API_KEY": "", "TOKENIZERS_PARALLELISM": "false"}
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise AssertionError(f"rankwright serve exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"no /health within 120 s: {log_path.read_text()}")
        time.sleep(0.2)


def stop(process: subprocess.Popen, sig: int = signal.SIGINT) -> None:
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def slow_post(url: str, docs: list[str], sent: threading.Event) -> httpx.Response:
    """POST a rerank request whose body's second half comes 1.5 s after ``sent`` is set."""

    def body():
        yield b'{"query": "drill", '
        sent.set()
        time.sleep(1.5)
        yield json.dumps({"documents": docs}).encode()[1:]

    return httpx.post(url, content=body(), headers={"content-type": "application/json"}, timeout=30)


def test_rankwright_serve_in_a_subprocess(tiny_cross_encoder, tmp_path):
    log_path = tmp_path / "serve.log"
    process, base = start_serve(tiny_cross_encoder, log_path, "--name", "tiny", "--max_documents", "10")
    answers: list[httpx.Response] = []
    try:
        health = httpx.get(f"{base}/health", timeout=2)
        assert health.json()["model"] == "tiny" and health.json()["ready"] is True
        docs = ["cordless drill", "sofa", "drill bits", "lamp"]
        response = httpx.post(
            f"{base}/rerank", json={"query": "drill", "documents": docs}, headers={"X-Request-ID": "sub-1"}
        )
        too_many = httpx.post(f"{base}/rerank", json={"query": "drill", "documents": ["d"] * 11})
        assert httpx.get(f"{base}/health").status_code == 200
        assert httpx.get(f"{base}/ready").json() == {"ready": True, "status": "ok"}
        # SIGTERM while a request is in flight (its body comes in two parts, 1.5 s apart)
        sent = threading.Event()
        slow = threading.Thread(target=lambda: answers.append(slow_post(f"{base}/rerank", docs, sent)))
        slow.start()
        assert sent.wait(30)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        draining, refused = (
            httpx.get(f"{base}/health"),
            httpx.post(f"{base}/rerank", json={"query": "d", "documents": docs}),
        )
        slow.join(30)
        process.wait(timeout=30)
    finally:
        stop(process)
    assert draining.status_code == 503 and draining.json()["status"] == "draining"
    assert refused.status_code == 503 and refused.json()["error"] == "shutting_down"
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["results"] == response.json()["results"]
    assert response.status_code == 200, response.text
    expected = Reranker.from_pretrained(tiny_cross_encoder).rank("drill", docs)
    assert [r["index"] for r in response.json()["results"]] == [r.index for r in expected]
    scores = [r["relevance_score"] for r in response.json()["results"]]
    np.testing.assert_allclose(scores, [1 / (1 + np.exp(-r.score)) for r in expected], atol=1e-5)
    assert too_many.status_code == 413 and "max_documents=10" in too_many.json()["message"]
    assert process.returncode == 0, log_path.read_text()  # SIGTERM: drained, then exited 0
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    requests = {line["request_id"]: line for line in lines if line.get("event") == "request"}
    assert requests["sub-1"]["status"] == 200 and requests["sub-1"]["documents"] == 4
    assert requests["sub-1"]["path"] == "/rerank" and requests["sub-1"]["method"] == "POST"
    assert sorted(line["status"] for line in requests.values() if line["path"] == "/rerank") == [200, 200, 413, 503]
