"""rankwright: relevance data in, a fine-tuned reranker out, measured honestly.

The public API of this package:

- ``Reranker``: a trained model folder, hub id or packaged name loaded for scoring;
  ``Reranker.from_pretrained(path)``, then ``score(queries, documents)`` and
  ``rank(query, documents, top_k=...)``.
- ``RankedDocument``: one result of ``Reranker.rank``: ``index``, ``score``, ``document``.
- ``__version__``: the installed version.

The steps of the pipeline are public in their modules (each imports torch only when used):

- ``rankwright.recipe``: ``RecipeConfig`` and ``run_recipe``, the whole job in one call.
- ``rankwright.data.readers``: ``read_relevance`` (every input format) and ``DataConfig``.
- ``rankwright.data.labels``: ``LabelConfig`` and ``build_scheme`` (raw labels to gains).
- ``rankwright.retrieval``: ``RetrieverConfig`` and ``build_retriever`` (BM25, dense).
- ``rankwright.mining.negatives``: ``Miner`` and ``MiningConfig`` (hard negatives).
- ``rankwright.serving``: ``ServingConfig`` and ``create_app`` (the HTTP server's app).
- ``rankwright.cli``: ``main``, the ``rankwright`` command line (``rankwright --help``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from rankwright.inference.reranker import RankedDocument, Reranker

__all__ = ["RankedDocument", "Reranker", "__version__"]
_LAZY = ("RankedDocument", "Reranker")


def __getattr__(name: str):
    # Lazy: `import rankwright` stays light; torch loads on first use of the model API.
    if name in _LAZY:
        from rankwright.inference import reranker

        return getattr(reranker, name)
    raise AttributeError(f"module 'rankwright' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's own names and the lazy public ones, without importing them."""
    return sorted(set(globals()) | set(__all__))
