"""``rankwright serve MODEL``: a reranking HTTP server (see rankwright.serving).

Loads the model once, warms it up, and serves ``POST /rerank`` (Cohere / Jina or TEI
shape), ``GET /health``, ``GET /ready`` and ``GET /metrics`` with uvicorn until SIGTERM
or Ctrl-C, which drain the requests in flight (``--grace_period``) before it exits 0.
Every serving setting is a flag: ``--max_documents``, ``--max_wait_ms``,
``--request_timeout_s``, ``--api_key`` (or $RANKWRIGHT_API_KEY) ...

``--workers N`` runs N processes on the same port, each loading its own model and
using ``--threads`` intra-op threads (default: the cores divided among them); they get
their settings from ``$RANKWRIGHT_SERVE_CONFIG`` through :func:`app_from_env`, which
also serves as an app factory for other process managers
(``gunicorn -k uvicorn.workers.UvicornWorker 'rankwright.commands.serve:app_from_env()'``).

    rankwright serve runs/homedepot_binary/best --port 8000
    curl -s localhost:8000/rerank -H 'content-type: application/json' \\
         -d '{"query": "cordless drill", "documents": ["drill kit", "sofa"], "top_n": 1}'
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from typing import Any

from rankwright.commands.configs import ServeConfig
from rankwright.inference.reranker import Reranker
from rankwright.serving.config import model_name

log = logging.getLogger(__name__)

#: seconds uvicorn waits, after a drain, for answers still being written (then closes them)
SHUTDOWN_S = 5
#: where worker processes find their settings (a ServeConfig as JSON)
SERVE_CONFIG_ENV = "RANKWRIGHT_SERVE_CONFIG"


def threads_per_worker(config: ServeConfig) -> int | None:
    """``--threads``, else the cores divided among ``--workers`` (None: one worker, the
    library defaults)."""
    if config.threads:
        return config.threads
    if config.workers > 1:
        return max(1, (os.cpu_count() or 1) // config.workers)
    return None


def load_reranker(config: ServeConfig) -> Reranker:
    """``Reranker.from_pretrained`` with the configured backend (torch, onnx, onnx-int8)
    and threads (torch's intra-op threads; ONNX Runtime's for the ONNX backends)."""
    import torch

    threads = threads_per_worker(config)
    if threads:
        torch.set_num_threads(threads)
    extra: dict[str, Any] = {"threads": threads} if threads and config.backend != "torch" else {}
    return Reranker.from_pretrained(
        config.model, device=config.device, max_length=config.max_length, backend=config.backend, **extra
    )


def build_app(config: ServeConfig):
    """The app serving ``config.model`` (loaded here), with the JSON access log."""
    from rankwright.serving import create_app
    from rankwright.serving.logs import install_json_access_log

    reranker = load_reranker(config)
    app = create_app(reranker, config)
    if config.access_log:
        install_json_access_log()
    else:
        logging.getLogger("rankwright.serving.access").disabled = True
    return app


def app_from_env():
    """The app of a worker process: the ServeConfig in ``$RANKWRIGHT_SERVE_CONFIG``."""
    return build_app(ServeConfig(**json.loads(os.environ[SERVE_CONFIG_ENV])))


def server_settings(config: ServeConfig) -> dict[str, Any]:
    """The uvicorn settings of ``config`` (see rankwright.serving.server.ServerConfig)."""
    return {
        "host": config.host,
        "port": config.port,
        "log_level": config.log_level,
        "access_log": False,
        "timeout_graceful_shutdown": SHUTDOWN_S,
        "timeout_keep_alive": config.timeout_keep_alive,
        "timeout_read": config.read_timeout_s or None,
        "limit_concurrency": config.limit_concurrency or None,
    }


def main(config: ServeConfig) -> None:
    """Load the model and serve it until SIGTERM or Ctrl-C (blocking)."""
    from rankwright.serving.server import DrainingServer, ServerConfig, run_workers

    if not config.model:
        raise ValueError("serve needs a model: rankwright serve MODEL (a folder, a hub id, or all-MiniLM-L6-v2)")
    config.check()
    if not 0 <= config.port <= 65535:  # before the model loads
        raise ValueError(f"port must be 0..65535, got {config.port}")
    if not config.name:
        config.name = model_name(config.model) or "rankwright"
    log.info("rankwright serve: %s on http://%s:%d", config.model, config.host, config.port)
    if config.workers > 1:
        os.environ[SERVE_CONFIG_ENV] = json.dumps(asdict(config))
        app = f"{__name__}:app_from_env"
        code = run_workers(ServerConfig(app, factory=True, **server_settings(config)), config.workers)
        if code:
            raise SystemExit(code)
        return
    server = DrainingServer(ServerConfig(build_app(config), **server_settings(config)))
    server.run()
    if server.failed is not None:  # logged with its traceback when it happened
        log.error("rankwright serve: %s could not be served: its warm-up failed: %s", config.model, server.failed)
        raise SystemExit(1)
    log.info("rankwright serve: stopped")
