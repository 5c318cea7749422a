"""Which metrics to compute, and how runs are compared (``rankwright compare``):
dataclasses only (no numpy, pandas or metric libraries)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rankwright.data.config import RunDataSelection
from rankwright.output_guard import overwrite_field


@dataclass
class RankingConfig:
    """Which ranking metrics to compute."""

    ndcg_at: list[int] = field(default_factory=lambda: [1, 3, 5, 10], metadata={"help": "nDCG cut-offs"})
    precision_at: list[int] = field(default_factory=lambda: [1, 5, 10], metadata={"help": "P@k cut-offs"})
    recall_at: list[int] = field(default_factory=lambda: [10, 100], metadata={"help": "Recall@k cut-offs"})


#: The columns of a printed table when every cut-off list is left at its default.
COMPACT = {"ndcg_at": 10, "precision_at": 10, "recall_at": 100}
PREFIXES = {"ndcg_at": "ndcg", "precision_at": "p", "recall_at": "recall"}


def table_metrics(config: RankingConfig) -> list[str]:
    """The columns of a printed table, in :func:`~rankwright.evaluation.ranking.measure_names`
    order: nDCG, MAP and MRR, and for each cut-off list every cut-off asked for; a list left
    at its default shows only its usual column (nDCG@10, P@10, Recall@100) to keep the table narrow."""
    default = RankingConfig()

    def cuts(name: str) -> list[str]:
        asked: list[int] = getattr(config, name)
        shown = [COMPACT[name]] if asked == getattr(default, name) else asked
        return [f"{PREFIXES[name]}@{k}" for k in shown if k in asked]

    return [*cuts("ndcg_at"), "ndcg", "map", "mrr", *cuts("precision_at"), *cuts("recall_at")]


@dataclass
class EvalOptions:
    """What to compute beyond the system's ranking metrics."""

    metrics: RankingConfig = field(default_factory=RankingConfig)
    random_baseline: bool = field(default=True, metadata={"help": "add a random-order row"})
    random_repeats: int = field(default=10, metadata={"help": "shuffles averaged for the random row"})
    seed: int = field(default=42, metadata={"help": "seed of the random row"})
    decision_threshold: float | None = field(
        default=None, metadata={"help": "score at or above which a pair is predicted relevant (accuracy, F1)"}
    )
    breakdown_by: str | None = field(
        default=None, metadata={"help": "also average per-query metrics by this pair column (e.g. user_id)"}
    )


@dataclass
class CompareConfig(RunDataSelection):
    # The command line also takes the runs as positional arguments (see config.add_arguments).
    POSITIONAL: ClassVar[str] = "runs"

    runs: list[str] = field(
        default_factory=list,
        metadata={"help": "two or more TREC runs or tables (query_id, doc_id, score); also positional: RUN RUN ..."},
    )
    names: list[str] | None = field(default=None, metadata={"help": "a name per run (default: the file names)"})
    baseline: int = field(default=0, metadata={"help": "index of the run the others are compared with"})
    metrics: RankingConfig = field(default_factory=RankingConfig)
    rounds: int = field(default=10_000, metadata={"help": "sign flips of the paired randomisation test"})
    seed: int = field(default=0, metadata={"help": "seed of the randomisation test"})
    output_dir: str = field(default="runs/compare", metadata={"help": "folder for compare.json/.html, per_query.csv"})
    overwrite: bool = overwrite_field()
    report: bool = field(default=True, metadata={"help": "write compare.html (and figures/differences.png)"})
