"""rankwright: relevance data in, a fine-tuned reranker out, measured honestly."""

__version__ = "0.1.0"
