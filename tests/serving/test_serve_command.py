"""``rankwright serve``: flags build a ServeConfig, the backend keyword, and the real
command in a subprocess (polled on /health, then asked to rerank, with one JSON log
line per request on stderr)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

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


def test_serve_without_a_model_or_with_bad_settings_is_an_error(capsys):
    assert cli(["serve"]) == 2
    assert cli(["serve", "--model", "m", "--max_documents", "0"]) == 2


def test_load_reranker_serves_the_onnx_export_with_the_torch_scores(tiny_cross_encoder, tmp_path):
    from rankwright.inference.onnx_backend import export_onnx

    folder = tmp_path / "model"
    shutil.copytree(tiny_cross_encoder, folder)
    export_onnx(str(folder), folder, int8=False)
    onnx = load_reranker(ServeConfig(model=str(folder), backend="onnx", max_length=24))
    torch_model = load_reranker(ServeConfig(model=str(folder), max_length=24))
    assert type(onnx.model).__name__ == "OnnxSequenceClassifier" and onnx.metadata.max_length == 24
    docs = ["cordless drill kit", "garden hose", "a much longer text about a white ceiling fan with a light kit"]
    np.testing.assert_allclose(onnx.logits("drill", docs), torch_model.logits("drill", docs), atol=1e-5)
    with pytest.raises(FileNotFoundError, match="rankwright export --onnx true --int8 true"):
        load_reranker(ServeConfig(model=str(folder), backend="onnx-int8"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rankwright_serve_in_a_subprocess(tiny_cross_encoder, tmp_path):
    port = _free_port()
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "rankwright.cli", "serve", tiny_cross_encoder, "--port", str(port)]
    command += ["--name", "tiny", "--max_documents", "10"]
    env = {**os.environ, "RANKWRIGHT_API_KEY": "", "TOKENIZERS_PARALLELISM": "false"}
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"rankwright serve exited: {log_path.read_text()}"
            try:
                health = httpx.get(f"{base}/health", timeout=2)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"no /health within 120 s: {log_path.read_text()}"
            time.sleep(0.2)
        assert health.json()["model"] == "tiny" and health.json()["ready"] is True
        docs = ["cordless drill", "sofa", "drill bits", "lamp"]
        response = httpx.post(
            f"{base}/rerank", json={"query": "drill", "documents": docs}, headers={"X-Request-ID": "sub-1"}
        )
        too_many = httpx.post(f"{base}/rerank", json={"query": "drill", "documents": ["d"] * 11})
        assert httpx.get(f"{base}/health").status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert response.status_code == 200, response.text
    expected = Reranker.from_pretrained(tiny_cross_encoder).rank("drill", docs)
    assert [r["index"] for r in response.json()["results"]] == [r.index for r in expected]
    scores = [r["relevance_score"] for r in response.json()["results"]]
    np.testing.assert_allclose(scores, [1 / (1 + np.exp(-r.score)) for r in expected], atol=1e-5)
    assert too_many.status_code == 413 and "max_documents=10" in too_many.json()["message"]
    assert process.returncode == 0
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    requests = {line["request_id"]: line for line in lines if line.get("event") == "request"}
    assert requests["sub-1"]["status"] == 200 and requests["sub-1"]["documents"] == 4
    assert requests["sub-1"]["path"] == "/rerank" and requests["sub-1"]["method"] == "POST"
    assert sorted(line["status"] for line in requests.values() if line["path"] == "/rerank") == [200, 413]
