"""The ``pairs`` command's configuration: one section per stage of the pipeline (dataclasses only, no Dask)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rankwright.evaluation.config import RankingConfig
from rankwright.interactions.sections import (
    ContextConfig,
    DaskConfig,
    InteractionsConfig,
    ItemsConfig,
    NegativesConfig,
    PositivesConfig,
)
from rankwright.interactions.splitting import SPLITS, PairSplitConfig
from rankwright.output_guard import overwrite_field

OUTPUT_FORMATS = ("jsonl", "parquet", "partitioned")
UNITS = ("user", "query")


@dataclass
class OutputConfig:
    """Where the pairs go and in which forms."""

    dir: str = field(default="runs/pairs", metadata={"help": "output folder (one file per split, summary.json)"})
    formats: list[str] = field(
        default_factory=lambda: ["jsonl"],
        metadata={
            "help": "jsonl (grouped, FlagEmbedding layout)|parquet (one row per pair)|partitioned (keep "
            "parts/<split>/part-*.parquet, a partitioned parquet dataset)"
        },
    )

    def check(self) -> None:
        unknown = [f for f in self.formats if f not in OUTPUT_FORMATS]
        if unknown or not self.formats:
            raise ValueError(f"output.formats must be a non-empty list of {OUTPUT_FORMATS}, got {self.formats}")


def _ranking_default() -> RankingConfig:
    return RankingConfig(ndcg_at=[1, 3, 5, 10], precision_at=[1], recall_at=[10])


@dataclass
class PairsEvaluationConfig:
    """Which split is evaluated, by what, and per which unit."""

    split: str = field(default="test", metadata={"help": "split evaluated after building (train|val|test)"})
    unit: str = field(
        default="user",
        metadata={"help": "user: all of a user's rows form one ranking (seed 004); query: each positive's group"},
    )
    baselines: bool = field(default=True, metadata={"help": "report the popularity and random baselines"})
    random_repeats: int = field(default=10, metadata={"help": "seeded random orders averaged for the random row"})
    model: str | None = field(default=None, metadata={"help": "reranker (model folder) that scores the split"})
    scores: str | None = field(
        default=None, metadata={"help": "scored pairs (csv/parquet: query_id or user_id, doc_id, score) to evaluate"}
    )
    batch_size: int = field(default=64, metadata={"help": "pairs per batch when a model scores"})
    max_length: int | None = field(
        default=None, metadata={"help": "tokens per (context, item) pair when a model scores (default: as trained)"}
    )
    select: bool = field(
        default=True,
        metadata={
            "help": "with a model and baselines on the test split: choose among the model, popularity and their "
            "fusions on the validation split (the model scores it too) and report the selected system on test"
        },
    )
    metrics: RankingConfig = field(default_factory=_ranking_default)

    def check(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"evaluation.split must be one of {SPLITS}, got {self.split!r}")
        if self.unit not in UNITS:
            raise ValueError(f"evaluation.unit must be one of {UNITS}, got {self.unit!r}")


@dataclass
class PairsConfig:
    """Interactions + items -> (user context, item text, label) pairs per split."""

    interactions: InteractionsConfig = field(default_factory=InteractionsConfig)
    items: ItemsConfig = field(default_factory=ItemsConfig)
    positives: PositivesConfig = field(default_factory=PositivesConfig)
    context: ContextConfig = field(default_factory=ContextConfig)
    negatives: NegativesConfig = field(default_factory=NegativesConfig)
    split: PairSplitConfig = field(default_factory=PairSplitConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    dask: DaskConfig = field(default_factory=DaskConfig)
    evaluation: PairsEvaluationConfig = field(default_factory=PairsEvaluationConfig)
    seed: int = field(default=42, metadata={"help": "seed of the user split and every per-user draw"})
    build: bool = field(default=True, metadata={"help": "false: only evaluate the pairs already in output.dir"})
    overwrite: bool = overwrite_field(help_text="replace the pairs an earlier run left in output.dir (build: true)")
    progress: bool = field(default=True, metadata={"help": "show progress bars"})

    def check(self) -> None:
        """Every section's own checks, before anything is read."""
        self.positives.check()
        self.context.check()
        self.negatives.check()
        self.split.check(has_timestamps=self.interactions.timestamp is not None)
        self.output.check()
        self.evaluation.check()
