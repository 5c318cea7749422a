"""Approximate nearest-neighbour indexes (FAISS) over unit-length embeddings, so that
the inner product is the cosine: HNSW (``IndexHNSWFlat``) and IVF-PQ (``IndexIVFPQ``
with an inner-product coarse quantizer).

This module works on numpy arrays only (no model): building, searching, saving with a
JSON meta file next to the index, loading with the checks that refuse an index of
another model, corpus or settings, and the recall of an index against exact search.
:class:`rankwright.retrieval.dense.DenseRetriever` puts it behind ``retriever.dense.index``.

FAISS is imported on first use, so that the exact index needs no FAISS."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from rankwright.retrieval.config import DenseConfig

log = logging.getLogger(__name__)

KINDS = ("exact", "hnsw", "ivf-pq")
#: DenseConfig fields that choose the index, not the embeddings.
INDEX_FIELDS = (
    "index",
    "hnsw_m",
    "hnsw_ef_construction",
    "hnsw_ef_search",
    "ivf_nlist",
    "ivf_nprobe",
    "pq_m",
    "pq_bits",
    "index_path",
    "recall_sample",
    "index_device",
)
#: Neighbours asked of the index per query, at least (the usual first-stage depth).
MIN_NEIGHBOURS = 100
#: IVF-PQ trains on at most this many points per coarse cluster (a seeded sample).
TRAIN_POINTS_PER_LIST = 64
SEED = 0


def import_faiss() -> Any:
    try:
        import faiss
    except ModuleNotFoundError as err:
        if err.name != "faiss":
            raise ImportError(f"FAISS is installed but could not load: {err}") from err
        raise ImportError("retriever.dense.index hnsw|ivf-pq needs FAISS: pip install faiss-cpu") from err
    except ImportError as err:  # e.g. a GPU build without its CUDA libraries
        raise ImportError(f"FAISS is installed but could not load: {err}") from err
    return faiss


def encoding_settings(config: DenseConfig) -> dict[str, Any]:
    """The settings that change the embeddings (two configs that differ only in the
    index share an encoder)."""
    return {k: v for k, v in asdict(config).items() if k not in INDEX_FIELDS}


def default_nlist(n: int) -> int:
    """About 4 x sqrt(n) coarse clusters, at most n / 39 (faiss wants 39 training points each)."""
    return max(1, min(round(4 * math.sqrt(n)), n // 39))


def index_params(config: DenseConfig, n: int, dimension: int) -> tuple[dict[str, int], dict[str, int]]:
    """(build parameters, search parameters) of ``config.index``; raises on settings
    that cannot build, before anything is encoded."""
    if config.index == "hnsw":
        build = {"m": config.hnsw_m, "ef_construction": config.hnsw_ef_construction}
        return build, {"ef_search": config.hnsw_ef_search}
    if config.index != "ivf-pq":
        raise ValueError(f"retriever.dense.index must be one of {KINDS}, got {config.index!r}")
    pq_m = config.pq_m or dimension  # one byte a dimension: bench/ann_index.py's 1M run, recall@100 0.96
    if pq_m <= 0 or dimension % pq_m:
        raise ValueError(
            f"retriever.dense.pq_m {pq_m} does not divide the embedding dimension {dimension}: "
            f"choose a divisor of {dimension} (e.g. {dimension // 4 or 1}, {dimension // 8 or 1})"
        )
    if not 1 <= config.pq_bits <= 16:
        raise ValueError(f"retriever.dense.pq_bits must be 1..16, got {config.pq_bits}")
    if n < 2**config.pq_bits:
        raise ValueError(
            f"ivf-pq with pq_bits {config.pq_bits} trains {2**config.pq_bits} centroids per sub-quantizer but the "
            f"corpus has {n} documents: lower retriever.dense.pq_bits or use index hnsw or exact"
        )
    nlist = config.ivf_nlist or default_nlist(n)
    if not 1 <= nlist <= n:
        raise ValueError(f"retriever.dense.ivf_nlist must be 1..{n} (the documents), got {nlist}")
    build = {"nlist": nlist, "pq_m": pq_m, "pq_bits": config.pq_bits}
    return build, {"nprobe": min(config.ivf_nprobe, nlist)}


def build_faiss(vectors: np.ndarray, kind: str, build: dict[str, int], *, seed: int = SEED) -> Any:
    """A FAISS index of ``vectors`` (unit length, float32) by inner product; IVF-PQ
    training is deterministic (seeded sample, seeded k-means)."""
    faiss = import_faiss()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, build["m"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = build["ef_construction"]
        index.add(vectors)
        return index
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFPQ(quantizer, d, build["nlist"], build["pq_m"], build["pq_bits"], faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = index.pq.cp.seed = seed
    index.cp.spherical = True  # unit-length centroids for cosine
    size = min(n, max(TRAIN_POINTS_PER_LIST * build["nlist"], 256 * 2 ** build["pq_bits"]))
    rows = np.sort(np.random.default_rng(seed).choice(n, size, replace=False)) if size < n else slice(None)
    index.train(vectors[rows])
    index.quantizer_trains_alone = 0
    for start in range(0, n, 1 << 16):
        index.add(vectors[start : start + (1 << 16)])
    return index


class AnnIndex:
    """A FAISS index with its kind and search parameters, searched where ``device``
    says (:mod:`rankwright.retrieval.ann_device`); ``index`` is always the CPU index.
    Pickles as the serialised CPU index (a uint8 array), so that it travels to Dask
    workers, where it is placed again."""

    def __init__(self, index: Any, kind: str, search: dict[str, int], device: str = "cpu"):
        self.index, self.kind, self.search_params, self.device = index, kind, dict(search), device
        self._apply_search_params()

    def _apply_search_params(self) -> None:
        from rankwright.retrieval.ann_device import place

        faiss = import_faiss()
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = self.search_params["ef_search"]
        else:
            faiss.extract_index_ivf(self.index).nprobe = self.search_params["nprobe"]
        self.placement = place(self.index, self.kind, self.device, self.search_params, faiss)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), each (queries, min(k, ntotal)), best first; row -1 where the
        index found fewer neighbours. More neighbours than a GPU selects: on the CPU."""
        from rankwright.retrieval.ann_device import GPU_MAX_K

        k = min(k, self.ntotal)
        searcher = self.placement.searcher if k <= GPU_MAX_K else self.index
        return searcher.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def serialized(self) -> np.ndarray:
        return import_faiss().serialize_index(self.index)

    def __getstate__(self) -> dict[str, Any]:
        state = {**self.__dict__, "index": self.serialized()}
        del state["placement"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.index = import_faiss().deserialize_index(self.index)
        self._apply_search_params()


def score_rows(index: AnnIndex, queries: np.ndarray, n: int, k: int | None):
    """Per query, a float32 vector over the ``n`` documents: the score of each row the
    index returned (``max(k, 100)`` neighbours, or all ``n``), ``-inf`` elsewhere.
    One vector at a time, so that a block of queries never holds a dense block."""
    scores, rows = index.search(queries, min(n, max(k or 0, MIN_NEIGHBOURS)))
    for score, row in zip(scores, rows, strict=True):
        found = row >= 0
        out = np.full(n, -np.inf, dtype=np.float32)
        out[row[found]] = score[found]
        yield out


# -- recall against exact search -------------------------------------------------------------


def exact_top_k(vectors: np.ndarray, probes: np.ndarray, k: int, block: int = 64) -> np.ndarray:
    """Rows of the ``k`` largest inner products of each probe (unordered), brute force."""
    k = min(k, len(vectors))
    out = np.empty((len(probes), k), dtype=np.int64)
    for start in range(0, len(probes), block):
        scores = probes[start : start + block] @ vectors.T
        out[start : start + block] = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return out


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean over probes of |found ∩ truth| / k (k = truth's width)."""
    k = truth.shape[1]
    return float(np.mean([len(np.intersect1d(f, t)) / k for f, t in zip(found, truth, strict=True)]))


def measure_recall(index: AnnIndex, vectors: np.ndarray, probes: np.ndarray) -> dict[str, float]:
    """recall@10 and recall@100 (each k capped at the corpus size) of ``index`` against
    exact search over ``vectors``, with ``probes`` as the queries."""
    out = {}
    for k in sorted({min(10, len(vectors)), min(MIN_NEIGHBOURS, len(vectors))}):
        out[f"recall@{k}"] = round(recall(index.search(probes, k)[1], exact_top_k(vectors, probes, k)), 4)
    return out


def sample_rows(n: int, count: int, seed: int = SEED) -> np.ndarray:
    """``count`` distinct rows of ``n`` (all when fewer), seeded, in order."""
    return np.sort(np.random.default_rng(seed).choice(n, min(count, n), replace=False))


# -- saved indexes ------------------------------------------------------------------------------


def corpus_digest(documents: dict[str, str], document_prefix: str = "") -> str:
    """SHA-256 of the document prefix and every (doc_id, text), in order (length-prefixed)."""
    digest = hashlib.sha256(f"{len(document_prefix)}:{document_prefix}".encode())
    for doc_id, text in documents.items():
        doc_id = str(doc_id)
        digest.update(f"{len(doc_id)}:{doc_id}{len(text)}:{text}".encode())
    return digest.hexdigest()


def index_location(config: DenseConfig, expected: dict[str, Any]) -> Path | None:
    """``config.index_path``, else a file under ``cache_dir/ann`` whose name holds the
    model signature, the kind and build parameters and the corpus digest; else None."""
    if config.index_path:
        return Path(config.index_path)
    if not config.cache_dir:
        return None
    params = "-".join(f"{k}{v}" for k, v in expected["build"].items())
    name = f"{expected['model_signature']}-{expected['kind']}-{params}-{expected['corpus_digest'][:16]}.faiss"
    return Path(config.cache_dir) / "ann" / name


def meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def check_meta(meta: dict[str, Any], expected: dict[str, Any], path: Path) -> None:
    """Refuse an index of another model or dimension, or of another corpus or settings."""
    if meta.get("model_signature") != expected["model_signature"] or meta.get("dimension") != expected["dimension"]:
        raise ValueError(
            f"{path} holds embeddings of model {meta.get('model')!r} (signature {meta.get('model_signature')}, "
            f"dimension {meta.get('dimension')}), not of {expected['model']!r} (signature "
            f"{expected['model_signature']}, dimension {expected['dimension']}): its vectors cannot be searched "
            "with this model's queries; remove the file or choose another retriever.dense.index_path"
        )
    differs = [
        f"{key} saved {meta.get(key)!r}, requested {expected[key]!r}"
        for key in ("kind", "build", "n_documents", "corpus_digest")
        if meta.get(key) != expected[key]
    ]
    if differs:
        raise ValueError(
            f"{path} was built with other settings or another corpus ({'; '.join(differs)}): "
            "remove the file or choose another retriever.dense.index_path"
        )


def save_index(index: AnnIndex, path: Path, meta: dict[str, Any]) -> None:
    """The index (``faiss.write_index``) and its meta JSON next to it (with the file's
    size as ``index_bytes``), each replaced atomically."""
    faiss = import_faiss()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    faiss.write_index(index.index, str(tmp))
    os.replace(tmp, path)
    meta["index_bytes"] = path.stat().st_size
    tmp_meta = path.with_name(f".{path.name}.json.{os.getpid()}.tmp")
    tmp_meta.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_meta, meta_path(path))


def load_index(
    path: Path, expected: dict[str, Any], search: dict[str, int], device: str = "cpu"
) -> tuple[AnnIndex, dict[str, Any]]:
    """The index saved at ``path`` (searched on ``device``) and its meta, after :func:`check_meta`."""
    if not meta_path(path).exists():
        raise ValueError(
            f"{path} has no meta file {meta_path(path).name}, so which model and corpus it indexes cannot be "
            "checked: remove the file or choose another retriever.dense.index_path"
        )
    meta = json.loads(meta_path(path).read_text(encoding="utf-8"))
    check_meta(meta, expected, path)
    index = AnnIndex(import_faiss().read_index(str(path)), expected["kind"], search, device)
    return index, meta


def open_or_build(
    expected: dict[str, Any],
    search: dict[str, int],
    path: Path | None,
    embed: Callable[[], np.ndarray],
    probes: Callable[[np.ndarray], np.ndarray | None],
    device: str = "cpu",
) -> tuple[AnnIndex, dict[str, Any]]:
    """Load the index at ``path`` when it exists (``embed`` is not called); else embed
    the corpus, build, measure recall on ``probes(vectors)`` (None: not measured), and
    save at ``path`` (None: kept in memory only). The index searches on ``device``
    (:mod:`rankwright.retrieval.ann_device`). Returns the index and its meta."""
    kind = expected["kind"]
    if path is not None and path.exists():
        index, meta = load_index(path, expected, search, device)
        log.info("loaded the %s index of %d documents from %s (not encoding the corpus)", kind, index.ntotal, path)
        return index, {**meta, "loaded": True}
    vectors = embed()
    started = time.perf_counter()
    index = AnnIndex(build_faiss(vectors, kind, expected["build"]), kind, search, device)
    seconds = round(time.perf_counter() - started, 2)
    log.info("built the %s index %s of %d documents in %.1f s", kind, expected["build"], len(vectors), seconds)
    meta = {**expected, "search": search, "build_seconds": seconds, "recall": None}
    probe_vectors = probes(vectors)
    if probe_vectors is not None and len(probe_vectors):
        meta["recall"] = {"probes": len(probe_vectors), **measure_recall(index, vectors, probe_vectors)}
        log.info("%s index against exact search (%s): %s", kind, expected.get("recall_probes"), meta["recall"])
    if path is None:
        meta["index_bytes"] = int(index.serialized().nbytes)
        log.info("no retriever.dense.cache_dir or index_path: the %s index is built in memory only", kind)
    else:
        save_index(index, path, meta)
        log.info("saved the %s index at %s", kind, path)
    return index, {**meta, "loaded": False}
