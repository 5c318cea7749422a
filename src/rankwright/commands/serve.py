"""``rankwright serve MODEL``: a reranking HTTP server (see rankwright.serving).

Loads the model once, warms it up, and serves ``POST /rerank`` (Cohere / Jina shape),
``GET /health`` and ``GET /metrics`` with uvicorn until interrupted (Ctrl-C).
Every serving setting is a flag: ``--max_documents``, ``--max_wait_ms``,
``--request_timeout_s``, ``--api_key`` (or $RANKWRIGHT_API_KEY) ...

    rankwright serve runs/homedepot_binary/best --port 8000
    curl -s localhost:8000/rerank -H 'content-type: application/json' \\
         -d '{"query": "cordless drill", "documents": ["drill kit", "sofa"], "top_n": 1}'
"""

from __future__ import annotations

import logging

from rankwright.commands.configs import ServeConfig
from rankwright.inference.reranker import Reranker
from rankwright.serving.config import model_name

log = logging.getLogger(__name__)


def load_reranker(config: ServeConfig) -> Reranker:
    """``Reranker.from_pretrained`` with the configured backend (torch, onnx, onnx-int8)."""
    return Reranker.from_pretrained(
        config.model, device=config.device, max_length=config.max_length, backend=config.backend
    )


def main(config: ServeConfig) -> None:
    """Load the model and serve it until interrupted (blocking)."""
    import uvicorn

    from rankwright.serving import create_app
    from rankwright.serving.logs import install_json_access_log

    if not config.model:
        raise ValueError("serve needs a model: rankwright serve MODEL (a folder, a hub id, or all-MiniLM-L6-v2)")
    config.check()
    if not config.name:
        config.name = model_name(config.model) or "rankwright"
    reranker = load_reranker(config)
    if reranker.metadata.model_type == "bi-encoder":
        raise ValueError(
            f"{config.model} is a bi-encoder: serve takes cross-encoders and generative rerankers so far; score it "
            "with Reranker.from_pretrained(...).rank, or serve a cross-encoder"
        )
    app = create_app(reranker, config)
    if config.access_log:
        install_json_access_log()
    else:
        logging.getLogger("rankwright.serving.access").disabled = True
    log.info("rankwright serve: %s on http://%s:%d", config.model, config.host, config.port)
    server = uvicorn.Server(
        uvicorn.Config(app, host=config.host, port=config.port, log_level=config.log_level, access_log=False)
    )
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn shut down gracefully, then re-raised the Ctrl-C it caught
        log.info("rankwright serve: stopped")
