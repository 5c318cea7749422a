"""Scoring and ranking with a trained model."""

from rankwright.inference.reranker import RankedDocument, Reranker

__all__ = ["RankedDocument", "Reranker"]
