"""First-stage retrievers: BM25 (bm25s) and dense (sentence-transformers), one interface.

The settings (:mod:`rankwright.retrieval.config`) load with the package; the retrievers,
and with them bm25s, numpy and sentence-transformers, on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rankwright.retrieval.config import KINDS, BM25Config, DenseConfig, RetrieverConfig

if TYPE_CHECKING:
    from rankwright.retrieval.base import Retriever
    from rankwright.retrieval.bm25 import BM25
    from rankwright.retrieval.bm25_shards import ShardedBM25
    from rankwright.retrieval.dense import DenseEncoder, DenseRetriever

_LAZY = {
    "BM25": "rankwright.retrieval.bm25",
    "DenseEncoder": "rankwright.retrieval.dense",
    "DenseRetriever": "rankwright.retrieval.dense",
    "Retriever": "rankwright.retrieval.base",
    "ShardedBM25": "rankwright.retrieval.bm25_shards",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rankwright.retrieval' has no attribute {name!r}")


def bm25_index(documents: dict[str, str], config: BM25Config, *, progress: bool = True) -> Retriever:
    """A BM25 index of ``documents`` with ``config`` (checked first); with ``shards``
    other than 1, sharded (the same scores)."""
    config.check()
    if config.shards != 1:
        from rankwright.retrieval.bm25_shards import ShardedBM25

        return ShardedBM25(documents, config, progress=progress)
    from rankwright.retrieval.bm25 import BM25

    return BM25(documents, config, progress=progress)


def build_retriever(
    config: RetrieverConfig, documents: dict[str, str], *, progress: bool = True, encoder: DenseEncoder | None = None
) -> Retriever:
    """An index of ``documents`` (doc_id -> text) for ``config.kind``; a dense retriever
    reuses ``encoder`` when it has the same settings; BM25 with ``bm25.shards`` other than 1
    is sharded (the same scores). The depth is the caller's (``config.top_k``, or the
    mining window): ``bm25.top_k``, which ``evaluate`` uses, is refused here."""
    if config.bm25.top_k != BM25Config().top_k:
        raise ValueError(
            f"retriever.bm25.top_k {config.bm25.top_k} is not used by a first-stage retriever: set its depth with "
            "retriever.top_k (rankwright mine: the last rank of mining.ranks)"
        )
    if config.kind == "bm25":
        return bm25_index(documents, config.bm25, progress=progress)
    if config.kind == "dense":
        from rankwright.retrieval.dense import DenseRetriever

        return DenseRetriever(documents, config.dense, progress=progress, encoder=encoder)
    raise ValueError(f"retriever.kind must be one of {KINDS}, got {config.kind!r}")


__all__ = [
    "BM25",
    "KINDS",
    "BM25Config",
    "DenseConfig",
    "DenseEncoder",
    "DenseRetriever",
    "Retriever",
    "RetrieverConfig",
    "ShardedBM25",
    "bm25_index",
    "build_retriever",
]
