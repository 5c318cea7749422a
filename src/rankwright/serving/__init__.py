"""A reranking HTTP server (``rankwright serve``): FastAPI app, request batching,
metrics and structured logs around a :class:`rankwright.inference.reranker.Reranker`."""

from rankwright.serving.app import create_app
from rankwright.serving.config import ServingConfig

__all__ = ["ServingConfig", "create_app"]
