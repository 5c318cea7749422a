"""Scoring and ranking with a trained model.

``Reranker`` and ``RankedDocument`` (and with them torch) load on first use, so that the
settings in :mod:`rankwright.inference.config` load without them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rankwright.inference.reranker import RankedDocument, Reranker

__all__ = ["RankedDocument", "Reranker"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from rankwright.inference import reranker

        return getattr(reranker, name)
    raise AttributeError(f"module 'rankwright.inference' has no attribute {name!r}")
