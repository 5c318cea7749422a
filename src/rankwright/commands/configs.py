"""Every command's configuration dataclass (besides ``train``'s, ``pairs``' and ``recipe``'s,
which live with their code's settings): dataclasses only, no torch, transformers or pandas,
so that ``rankwright --help`` and config errors answer at once. Each command module
re-exports its config. The data selection they share (:class:`DataSelection`,
:class:`RunDataSelection`) lives in :mod:`rankwright.data.config` and is re-exported here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rankwright.cluster.config import ClusterConfig
from rankwright.data.config import (  # noqa: F401 (SUBSETS: re-exported)
    SUBSETS,
    DataConfig,
    DataSelection,
    LabelConfig,
    RunDataSelection,
    SplitConfig,
)
from rankwright.evaluation.config import CompareConfig, EvalOptions, RankingConfig  # noqa: F401 (CompareConfig: re-exported)
from rankwright.inference.config import DEFAULT_OPSET, METHODS, Int8Config
from rankwright.mining.config import MiningConfig, TeacherConfig
from rankwright.output_guard import overwrite_field
from rankwright.retrieval.config import BM25Config, RetrieverConfig
from rankwright.serving.config import ServingConfig


@dataclass
class SplitCommandConfig:
    data: DataConfig = field(default_factory=DataConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    output_dir: str = field(default="runs/split", metadata={"help": "folder for train/val/test files"})
    overwrite: bool = overwrite_field()


@dataclass
class BM25CommandConfig(DataSelection):
    mode: str = field(default="auto", metadata={"help": "rerank given candidates or retrieve from the corpus"})
    bm25: BM25Config = field(default_factory=BM25Config)
    output: str = field(default="runs/bm25.trec", metadata={"help": "TREC run file to write"})
    overwrite: bool = overwrite_field()
    progress: bool = field(default=True, metadata={"help": "show progress bars"})


@dataclass
class EvaluateConfig(RunDataSelection):
    scorer: str = field(
        default="auto",
        metadata={
            "help": "bm25, run (scores read from `run`), model; auto: the model if given, else the run, else bm25"
        },
    )
    model: str | None = field(default=None, metadata={"help": "trained model folder (scorer=model)"})
    batch_size: int = field(default=64, metadata={"help": "pairs per batch when scoring with a model"})
    run: str | None = field(default=None, metadata={"help": "TREC run, or a table with query_id, doc_id, score"})
    mode: str = field(default="auto", metadata={"help": "rerank candidates or retrieve from the corpus (auto)"})
    bm25: BM25Config = field(default_factory=BM25Config)
    eval: EvalOptions = field(default_factory=EvalOptions)
    output_dir: str = field(default="runs/evaluate", metadata={"help": "folder for metrics.json, run, predictions"})
    overwrite: bool = overwrite_field()
    progress: bool = field(default=True, metadata={"help": "show progress bars"})
    report: bool = field(default=True, metadata={"help": "write report.html and figures next to metrics.json"})
    baseline: str | None = field(
        default=None,
        metadata={
            "help": "a run file, or `bm25`, evaluated on the same data and shown as the baseline row with deltas"
        },
    )


@dataclass
class RerankConfig:
    model: str = field(default="", metadata={"help": "trained model folder"})
    data: DataConfig = field(default_factory=DataConfig)
    run: str | None = field(default=None, metadata={"help": "TREC run to rerank (default: the data's candidates)"})
    top_k: int | None = field(default=None, metadata={"help": "rerank only the run's top k per query"})
    batch_size: int = field(default=64, metadata={"help": "pairs per batch"})
    block: int = field(default=4096, metadata={"help": "pairs scored together (whole queries): Dask's unit of work"})
    output: str = field(default="runs/reranked.trec", metadata={"help": "TREC run file to write"})
    overwrite: bool = overwrite_field()
    progress: bool = field(default=True, metadata={"help": "show progress bars"})
    dask: ClusterConfig = field(
        default_factory=ClusterConfig, metadata={"help": "run on Dask: dask.workers N or dask.scheduler ADDRESS"}
    )


@dataclass
class MineConfig(DataSelection):
    retriever: RetrieverConfig = field(default_factory=RetrieverConfig, metadata={"help": "the first stage"})
    mining: MiningConfig = field(default_factory=MiningConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    output: str = field(default="runs/mined.jsonl", metadata={"help": "grouped JSONL to write"})
    overwrite: bool = overwrite_field()
    progress: bool = field(default=True, metadata={"help": "show progress bars"})
    dask: ClusterConfig = field(
        default_factory=ClusterConfig, metadata={"help": "run on Dask: dask.workers N or dask.scheduler ADDRESS"}
    )


@dataclass
class TeacherScoreConfig(DataSelection):
    model: str = field(default="", metadata={"help": "the teacher: a trained model folder (or a HF model)"})
    output: str = field(default="runs/teacher.jsonl", metadata={"help": "grouped JSONL to write"})
    overwrite: bool = overwrite_field()
    batch_size: int = field(default=64, metadata={"help": "pairs per batch"})
    block: int = field(default=4096, metadata={"help": "pairs scored together (whole queries): Dask's unit of work"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})
    dask: ClusterConfig = field(
        default_factory=ClusterConfig, metadata={"help": "run on Dask: dask.workers N or dask.scheduler ADDRESS"}
    )


@dataclass
class RetrieveRerankConfig(DataSelection):
    model: str = field(default="", metadata={"help": "trained model folder (or a HF reranker)"})
    retriever: RetrieverConfig = field(default_factory=RetrieverConfig, metadata={"help": "the first stage"})
    oracle: bool = field(
        default=False, metadata={"help": "also inject judged relevant documents the first stage missed (upper bound)"}
    )
    batch_size: int = field(default=64, metadata={"help": "pairs per batch"})
    metrics: RankingConfig = field(
        default_factory=lambda: RankingConfig(ndcg_at=[10], precision_at=[10], recall_at=[10, 100])
    )
    block: int = field(default=64, metadata={"help": "queries retrieved and reranked together: Dask's unit of work"})
    output_dir: str = field(default="runs/retrieve_rerank", metadata={"help": "runs, metrics.json, per_query.csv"})
    overwrite: bool = overwrite_field()
    progress: bool = field(default=True, metadata={"help": "show progress bars"})
    dask: ClusterConfig = field(
        default_factory=ClusterConfig, metadata={"help": "run on Dask: dask.workers N or dask.scheduler ADDRESS"}
    )


@dataclass
class HeldOutSelection(DataSelection):
    """A selection that fits something on held-out queries: ``subset`` all means val."""

    def __post_init__(self) -> None:
        if self.subset == "all":
            self.subset = "val"  # fit on held-out queries, not on what the model trained on


@dataclass
class CalibrateConfig(HeldOutSelection):
    model: str = field(default="", metadata={"help": "trained model folder; its rankwright.json gets the calibration"})
    method: str = field(default="platt", metadata={"help": "platt|temperature|isotonic"})
    report_subset: str | None = field(
        default="test", metadata={"help": "query split on which ECE before/after is reported (none: skip)"}
    )
    batch_size: int = field(default=64, metadata={"help": "pairs per batch"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})


@dataclass
class FuseConfig(HeldOutSelection):
    model: str = field(default="", metadata={"help": "trained model folder; its rankwright.json gets the fusion"})
    run: str = field(default="", metadata={"help": "first-stage TREC run whose scores are fused"})
    top_k: int | None = field(default=None, metadata={"help": "use only the run's top k per query"})
    dense_model: str | None = field(
        default=None, metadata={"help": "sentence-embedding model whose cosine is a third component"}
    )
    methods: list[str] = field(default_factory=lambda: list(METHODS), metadata={"help": "minmax|zscore|rrf"})
    grid: int = field(default=10, metadata={"help": "weight steps (10: weights 0, 0.1, ..., 1)"})
    batch_size: int = field(default=64, metadata={"help": "pairs per batch"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})


@dataclass
class ExportConfig(DataSelection):
    model: str = field(default="", metadata={"help": "trained model folder (full weights or LoRA adapter)"})
    output: str = field(default="", metadata={"help": "folder to write"})
    overwrite: bool = overwrite_field()
    merge: bool = field(default=True, metadata={"help": "merge LoRA adapters into the base weights"})
    onnx: bool = field(
        default=False, metadata={"help": "also write onnx/model.onnx (cross-encoders and bi-encoders; CPU inference)"}
    )
    int8: bool = field(default=False, metadata={"help": "also write onnx/model_int8.onnx (dynamic int8; implies onnx)"})
    opset: int = field(default=DEFAULT_OPSET, metadata={"help": "ONNX opset"})
    quantization: Int8Config = field(default_factory=Int8Config)
    batch_size: int = field(default=64, metadata={"help": "pairs per batch when comparing on evaluation data"})


@dataclass
class QuickstartConfig:
    model: str = field(default="all-MiniLM-L6-v2", metadata={"help": "encoder to fine-tune"})
    loss: str = field(default="ranknet", metadata={"help": "training loss (see rankwright train)"})
    epochs: float = field(default=4.0, metadata={"help": "training epochs"})
    learning_rate: float = field(default=1e-4, metadata={"help": "peak learning rate"})
    seed: int = field(default=42, metadata={"help": "seed of the split, sampling and training"})
    output_dir: str = field(default="runs/quickstart", metadata={"help": "model folders and metrics"})
    overwrite: bool = overwrite_field(
        True, "replace the previous quickstart's results in output_dir (false: refuse to, as other commands do)"
    )
    progress: bool = field(default=True, metadata={"help": "show progress bars"})


@dataclass
class ServeConfig(ServingConfig):
    """The model and where to listen, besides the serving settings."""

    POSITIONAL: ClassVar[str] = "model"  # rankwright serve MODEL
    model: str = field(default="", metadata={"help": "model folder, hub id or packaged name (all-MiniLM-L6-v2)"})
    host: str = field(default="127.0.0.1", metadata={"help": "address to listen on (0.0.0.0: every interface)"})
    port: int = field(default=8000, metadata={"help": "TCP port"})
    device: str | None = field(default=None, metadata={"help": "cpu|cuda (default: cuda when available)"})
    max_length: int | None = field(default=None, metadata={"help": "tokens per pair (default: as trained)"})
    log_level: str = field(default="info", metadata={"help": "uvicorn log level (debug|info|warning|error)"})
    access_log: bool = field(default=True, metadata={"help": "one JSON line per request on stderr"})
    workers: int = field(
        default=1, metadata={"help": "worker processes on the port, each loading its own model (>1: about 1 per core)"}
    )
    threads: int = field(
        default=0,
        metadata={"help": "torch / ONNX Runtime intra-op threads per worker; 0: the cores divided among the workers"},
    )
    timeout_keep_alive: int = field(default=5, metadata={"help": "seconds an idle keep-alive connection stays open"})
    read_timeout_s: float = field(
        default=30.0,
        metadata={"help": "seconds a connection may take to send a whole request (headers and body); 0: no limit"},
    )
    limit_concurrency: int = field(
        default=1000, metadata={"help": "most connections and requests at once (more: 503 from uvicorn); 0: no limit"}
    )

    def check(self) -> None:
        super().check()
        for name in ("workers", "timeout_keep_alive"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("threads", "read_timeout_s", "limit_concurrency"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
