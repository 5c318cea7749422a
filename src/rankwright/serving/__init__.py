"""A reranking HTTP server (``rankwright serve``): FastAPI app, request batching,
metrics and structured logs around a :class:`rankwright.inference.reranker.Reranker`.

``create_app`` (and with it FastAPI and torch) loads on first use; the settings
(:class:`ServingConfig`) load with the package."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rankwright.serving.config import ServingConfig

if TYPE_CHECKING:
    from rankwright.serving.app import create_app

__all__ = ["ServingConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from rankwright.serving.app import create_app

        return create_app
    raise AttributeError(f"module 'rankwright.serving' has no attribute {name!r}")
