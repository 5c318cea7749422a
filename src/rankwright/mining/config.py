"""Mining settings: dataclasses only (no numpy or retrievers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rankwright.retrieval.config import DenseConfig

SAMPLING = ("top", "random")


@dataclass
class MiningConfig:
    """Which retrieved documents become negatives."""

    ranks: list[int] = field(
        default_factory=lambda: [10, 100], metadata={"help": "first and last retrieved rank (1-based) to mine"}
    )
    negatives: int = field(default=15, metadata={"help": "negatives kept per query"})
    sampling: str = field(default="random", metadata={"help": "top (best-ranked first) | random (within the window)"})
    seed: int = field(default=42, metadata={"help": "seed of random sampling"})
    block: int = field(default=1024, metadata={"help": "queries processed (and teacher-scored) together"})

    def check(self) -> None:
        if len(self.ranks) != 2 or not 1 <= self.ranks[0] <= self.ranks[1]:
            raise ValueError(f"mining.ranks must be [first, last] with 1 <= first <= last, got {self.ranks}")
        if self.sampling not in SAMPLING:
            raise ValueError(f"mining.sampling must be one of {SAMPLING}, got {self.sampling!r}")
        if self.negatives < 1:
            raise ValueError(f"mining.negatives must be at least 1, got {self.negatives}")
        if self.block < 1:
            raise ValueError(f"mining.block (queries processed together) must be at least 1, got {self.block}")


@dataclass
class TeacherConfig:
    """The teacher and the false-negative filter that uses its scores."""

    model: str | None = field(
        default=None, metadata={"help": "none | dense (cosine of teacher.dense) | a trained rankwright model folder"}
    )
    dense: DenseConfig = field(default_factory=DenseConfig, metadata={"help": "embedding model when model=dense"})
    batch_size: int = field(default=64, metadata={"help": "pairs per batch for a model teacher"})
    max_score: float | None = field(
        default=None, metadata={"help": "drop a candidate the teacher scores at or above this"}
    )
    margin: float | None = field(
        default=None, metadata={"help": "drop a candidate scoring above (positive score - margin)"}
    )
    relative: float | None = field(
        default=None, metadata={"help": "drop a candidate scoring above relative x positive score (e.g. 0.95)"}
    )
    reference: str = field(default="max", metadata={"help": "positive score the margins use: max|min|mean"})

    @property
    def enabled(self) -> bool:
        return bool(self.model) and str(self.model).lower() != "none"

    @property
    def filters(self) -> bool:
        return any(v is not None for v in (self.max_score, self.margin, self.relative))

    def check(self) -> None:
        if self.filters and not self.enabled:
            raise ValueError("teacher.max_score/margin/relative need a teacher: set teacher.model=dense or a folder")
        if self.reference not in ("max", "min", "mean"):
            raise ValueError(f"teacher.reference must be max, min or mean, got {self.reference!r}")
        if self.relative is not None and not 0 < self.relative <= 1:
            raise ValueError(f"teacher.relative is a fraction of the positive's score in (0, 1], got {self.relative}")
