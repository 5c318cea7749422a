"""First-stage retriever settings: dataclasses only (no bm25s, numpy or sentence-transformers)."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("bm25", "dense")


@dataclass
class BM25Config:
    """BM25 parameters; the defaults are bm25s's, with English stopwords and no stemming."""

    k1: float = field(default=1.5, metadata={"help": "term-frequency saturation"})
    b: float = field(default=0.75, metadata={"help": "length normalisation"})
    method: str = field(default="lucene", metadata={"help": "bm25s variant: lucene|robertson|atire|bm25l|bm25+"})
    stopwords: str | None = field(default="en", metadata={"help": "stopword list (e.g. en) or none"})
    stemmer: str | None = field(default=None, metadata={"help": "PyStemmer language (e.g. english) or none"})
    top_k: int = field(default=100, metadata={"help": "documents retrieved per query"})
    shards: int = field(
        default=1,
        metadata={
            "help": "index in this many shards (consecutive documents) with the IDF and average length of the "
            "whole corpus: scores equal the one-index scores"
        },
    )

    def check(self) -> None:
        """Raise a ValueError naming the first parameter out of range (shards: ShardedBM25's own check)."""
        if self.k1 < 0:
            raise ValueError(f"bm25.k1 must be >= 0, got {self.k1}")
        if not 0 <= self.b <= 1:
            raise ValueError(f"bm25.b must be in [0, 1], got {self.b}")
        if self.top_k < 1:
            raise ValueError(f"bm25.top_k must be at least 1, got {self.top_k}")


@dataclass
class DenseConfig:
    """A sentence-embedding model and how to encode with it."""

    model: str = field(default="all-MiniLM-L6-v2", metadata={"help": "sentence-transformers model id or folder"})
    batch_size: int = field(default=64, metadata={"help": "texts per encoding batch"})
    max_length: int | None = field(default=None, metadata={"help": "tokens per text (default: the model's)"})
    query_prefix: str = field(default="", metadata={"help": "text put before each query (e.g. 'query: ' for E5)"})
    document_prefix: str = field(default="", metadata={"help": "text put before each document"})
    device: str | None = field(default=None, metadata={"help": "cpu|cuda|... (default: sentence-transformers' choice)"})
    cache_dir: str | None = field(
        default=None,
        metadata={"help": "keep embeddings here: a rerun over the same texts and model reads them instead of encoding"},
    )
    index: str = field(
        default="exact",
        metadata={"help": "exact (brute-force cosine) | hnsw | ivf-pq (approximate, FAISS; saved and reloaded)"},
    )
    hnsw_m: int = field(default=32, metadata={"help": "hnsw: graph neighbours per node"})
    hnsw_ef_construction: int = field(default=200, metadata={"help": "hnsw: candidate list size while building"})
    hnsw_ef_search: int = field(
        default=256, metadata={"help": "hnsw: candidate list size while searching (at least the neighbours asked for)"}
    )
    ivf_nlist: int | None = field(
        default=None,
        metadata={"help": "ivf-pq: coarse clusters (default: 4 x sqrt(documents), at most documents / 39)"},
    )
    ivf_nprobe: int = field(
        default=256, metadata={"help": "ivf-pq: clusters searched per query (recall@100 0.96 at 1M documents)"}
    )
    pq_m: int | None = field(
        default=None,
        metadata={
            "help": "ivf-pq: sub-quantizers (bytes per vector at 8 bits); must divide the dimension "
            "(default: the dimension, a quarter of the exact matrix)"
        },
    )
    pq_bits: int = field(default=8, metadata={"help": "ivf-pq: bits per sub-quantizer code"})
    index_path: str | None = field(
        default=None,
        metadata={
            "help": "approximate index file (default: under cache_dir, named by model, settings and corpus; "
            "neither: built in memory only)"
        },
    )
    index_device: str = field(
        default="auto",
        metadata={
            "help": "hnsw|ivf-pq: where the FAISS index searches: auto (a GPU when FAISS has GPU support and sees "
            "one; hnsw and unsupported ivf-pq sizes stay on the CPU, reported) | cpu | cuda | cuda:N (an error "
            "where the GPU cannot); always built on the CPU"
        },
    )
    recall_sample: int = field(
        default=100,
        metadata={
            "help": "approximate index: probes whose recall@10/@100 against exact search is measured "
            "when it is built (0: off)"
        },
    )


@dataclass
class RetrieverConfig:
    """Which first stage, and its settings."""

    kind: str = field(default="bm25", metadata={"help": "bm25|dense"})
    top_k: int = field(default=100, metadata={"help": "documents retrieved per query"})
    bm25: BM25Config = field(default_factory=BM25Config)
    dense: DenseConfig = field(default_factory=DenseConfig)
