"""A fine-tuned embedding model (``model_type: bi-encoder``) as a reranker.

The query and each document are embedded apart (each distinct text once) by the
folder's sentence-transformers model, and a pair's score is the cosine of the two
unit-length embeddings. ``BiEncoderReranker`` is a :class:`Reranker`, so ``score``,
``rank``, score fusion and calibration work as for cross-encoders; its ``logits``
are the cosines.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rankwright.inference.fusion import validate_fusion
from rankwright.inference.reranker import BATCH_PAIRS, BATCH_TOKENS, Reranker, pair_lists
from rankwright.models.metadata import ModelMetadata
from rankwright.retrieval.dense import DenseConfig, DenseEncoder

log = logging.getLogger(__name__)

#: Texts embedded per batch when scoring pairs. The pairs' batch size (256 by default)
#: made a fine-tuned MiniLM 0.83x sentence-transformers' speed on Home Depot pairs; 64
#: texts a batch measured 1.05x, 32 0.99x (bench/inference.py, BENCHMARKS.md).
TEXTS_PER_BATCH = 64


def encoder_config(path: str | Path, metadata: ModelMetadata, device: str | None = None) -> DenseConfig:
    """How a bi-encoder folder encodes: its own model at the max_length it was trained with."""
    return DenseConfig(model=str(path), max_length=metadata.max_length, device=device)


class BiEncoderReranker(Reranker):
    """Cosine of query and document embeddings; see the module docstring."""

    def __init__(
        self, encoder: DenseEncoder, metadata: ModelMetadata, device: str | None = None, backend: str = "torch"
    ):
        if metadata.model_type != "bi-encoder":
            raise ValueError(f"a BiEncoderReranker needs a bi-encoder model, this one is a {metadata.model_type}")
        self.encoder = encoder
        self.model = encoder.model
        self.head = None
        self.metadata = metadata
        self.device = torch.device(device or str(encoder.model.device))
        if metadata.fusion:
            validate_fusion(metadata.fusion)
        self._dense_encoder = None
        self._biencoder: Reranker | None = None
        self.backend = backend

    @classmethod
    def load(
        cls,
        path: str | Path,
        metadata: ModelMetadata,
        device: str | None = None,
        backend: str = "torch",
        **model_kwargs: Any,
    ) -> BiEncoderReranker:
        """The folder's sentence-transformers model, or with ``backend`` ``onnx`` /
        ``onnx-int8`` its ONNX file on CPU (``model_kwargs``: ``threads``)."""
        if backend == "torch":
            return cls(DenseEncoder(encoder_config(path, metadata, device)), metadata, device)
        from rankwright.inference.onnx_runtime import check_cpu, load_onnx_model  # onnxruntime only when asked for

        check_cpu(device)  # before the file is looked for
        model = load_onnx_model(str(path), metadata, backend, **model_kwargs)
        return cls(DenseEncoder(encoder_config(path, metadata, "cpu"), model=model), metadata, "cpu", backend)

    def logits(
        self,
        queries: str | Sequence[str],
        docs: Sequence[str],
        *,
        batch_size: int = BATCH_PAIRS,
        max_tokens: int | None = BATCH_TOKENS,
        progress: bool | None = None,
    ) -> np.ndarray:
        """The cosine of each (query, document) pair, in input order. Texts are embedded
        at most ``TEXTS_PER_BATCH`` (or ``batch_size``, if fewer) at a time; ``max_tokens``
        is not used (sentence-transformers batches a number of texts)."""
        queries, docs = pair_lists(queries, docs)
        if not docs:
            return np.zeros(0, dtype=np.float32)
        was_training = self.model.training
        self.model.eval()
        self.encoder.config.batch_size = min(batch_size, TEXTS_PER_BATCH)
        try:
            return self.encoder.cosine(queries, docs, progress=bool(progress)).astype(np.float32)
        finally:
            if was_training:
                self.model.train()

    def logits_of_features(self, features: list[dict[str, Any]], **kwargs: Any) -> np.ndarray:
        raise NotImplementedError(
            "a bi-encoder embeds queries and documents apart; score it with Reranker.score/logits on texts"
        )
