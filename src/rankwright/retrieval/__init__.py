"""First-stage retrievers: BM25 (bm25s) and dense (sentence-transformers), one interface."""

from __future__ import annotations

from dataclasses import dataclass, field

from rankwright.retrieval.base import Retriever
from rankwright.retrieval.bm25 import BM25, BM25Config
from rankwright.retrieval.dense import DenseConfig, DenseEncoder, DenseRetriever

KINDS = ("bm25", "dense")


@dataclass
class RetrieverConfig:
    """Which first stage, and its settings."""

    kind: str = field(default="bm25", metadata={"help": "bm25|dense"})
    top_k: int = field(default=100, metadata={"help": "documents retrieved per query"})
    bm25: BM25Config = field(default_factory=BM25Config)
    dense: DenseConfig = field(default_factory=DenseConfig)


def build_retriever(
    config: RetrieverConfig, documents: dict[str, str], *, progress: bool = True, encoder: DenseEncoder | None = None
) -> Retriever:
    """An index of ``documents`` (doc_id -> text) for ``config.kind``; a dense retriever
    reuses ``encoder`` when it has the same settings."""
    if config.kind == "bm25":
        return BM25(documents, config.bm25, progress=progress)
    if config.kind == "dense":
        return DenseRetriever(documents, config.dense, progress=progress, encoder=encoder)
    raise ValueError(f"retriever.kind must be one of {KINDS}, got {config.kind!r}")


__all__ = [
    "BM25",
    "KINDS",
    "BM25Config",
    "DenseConfig",
    "DenseRetriever",
    "Retriever",
    "RetrieverConfig",
    "build_retriever",
]
