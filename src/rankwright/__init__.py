"""rankwright: relevance data in, a fine-tuned reranker out, measured honestly."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from rankwright.inference.reranker import RankedDocument, Reranker

__all__ = ["RankedDocument", "Reranker", "__version__"]


def __getattr__(name: str):
    # Lazy: `import rankwright` stays light; torch loads on first use of the model API.
    if name in ("Reranker", "RankedDocument"):
        from rankwright.inference import reranker

        return getattr(reranker, name)
    raise AttributeError(f"module 'rankwright' has no attribute {name!r}")
