"""The ``recipe`` command's configuration: dataclasses only (no torch or pandas).
:mod:`rankwright.recipe` exposes ``RecipeConfig`` (:mod:`rankwright.commands.recipe`, the old path, warns)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rankwright.data.config import DataSelection, SplitConfig
from rankwright.evaluation.config import RankingConfig
from rankwright.inference.config import METHODS
from rankwright.mining.config import MiningConfig
from rankwright.output_guard import overwrite_field
from rankwright.retrieval.config import DenseConfig, RetrieverConfig
from rankwright.training.config import LoraConfig, LossConfig, ModelConfig, SamplingConfig, TrainingConfig


@dataclass
class WarmupConfig:
    enabled: bool = field(
        default=True, metadata={"help": "distil the dense teacher's scores before supervised training"}
    )
    loss: LossConfig = field(
        default_factory=lambda: LossConfig(name="margin_mse"), metadata={"help": "margin_mse|listwise_kl"}
    )
    epochs: float = field(default=1.0, metadata={"help": "warm-up epochs"})
    batch_size: int = field(
        default=4,
        metadata={
            "help": "queries (groups of a positive and its negatives) per step: small, so that a few hundred "
            "training queries still give the warm-up tens of steps"
        },
    )
    learning_rate: float = field(default=1e-4, metadata={"help": "warm-up peak learning rate"})
    choose: bool = field(
        default=True,
        metadata={
            "help": "also train the supervised phase without the warm-up and keep the reranker with the higher "
            "validation nDCG@10 (about twice the supervised training time)"
        },
    )


@dataclass
class BiEncoderConfig:
    enabled: bool = field(
        default=True,
        metadata={
            "help": "fine-tune the dense model as a bi-encoder on the training pairs (in-batch negatives); a candidate "
            "of its own and a fusion component"
        },
    )
    loss: LossConfig = field(
        default_factory=lambda: LossConfig(name="mnrl"), metadata={"help": "mnrl|cached_mnrl (sentence-transformers)"}
    )
    epochs: float = field(default=3.0, metadata={"help": "at most this many epochs (early stopping after 1 worse)"})
    batch_size: int = field(default=32, metadata={"help": "(query, positive, negatives) rows per step"})
    learning_rate: float = field(default=2e-5, metadata={"help": "peak learning rate"})
    negatives: int = field(
        default=1,
        metadata={
            "help": "hard negatives per row (mined or judged), besides the batch's other documents; each one adds "
            "a document forward per row (Cranfield, 2 CPU cores: about 15 s a step of 32 rows at 1)"
        },
    )
    max_length: int = field(default=256, metadata={"help": "tokens per text (query or document)"})
    warm_start: bool = field(
        default=False,
        metadata={
            "help": "also train the cross-encoder's supervised phase from the fine-tuned bi-encoder's encoder "
            "weights (a new score head); it competes with the other cross-encoders on validation"
        },
    )


@dataclass
class FusionSearchConfig:
    methods: list[str] = field(default_factory=lambda: list(METHODS), metadata={"help": "minmax|zscore|rrf"})
    grid: int = field(default=10, metadata={"help": "weight steps (10: weights 0, 0.1, ..., 1)"})


@dataclass
class RecipeConfig(DataSelection):
    split: SplitConfig = field(default_factory=lambda: SplitConfig(ratios=[0.6, 0.2, 0.2]))
    train_queries: int | None = field(
        default=None, metadata={"help": "train on at most this many of the training queries (seeded sample)"}
    )
    retriever: RetrieverConfig = field(default_factory=RetrieverConfig, metadata={"help": "the first stage"})
    dense: DenseConfig = field(
        default_factory=DenseConfig, metadata={"help": "zero-shot dense rerank and teacher (model: none to skip)"}
    )
    mining: MiningConfig = field(default_factory=lambda: MiningConfig(ranks=[1, 100]))
    model: ModelConfig = field(default_factory=lambda: ModelConfig(max_length=128))
    loss: LossConfig = field(default_factory=LossConfig, metadata={"help": "supervised phase loss"})
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(
            epochs=3, batch_size=16, learning_rate=5e-5, early_stopping_patience=1, save_steps=10**9, logging_steps=20
        ),
        metadata={"help": "supervised phase"},
    )
    validation_depth: int | None = field(
        default=30,
        metadata={
            "help": "validation during training reranks each validation query's first-stage top N (cheaper per "
            "epoch); the final selection uses all retriever.top_k"
        },
    )
    warmup: WarmupConfig = field(default_factory=WarmupConfig)
    bi_encoder: BiEncoderConfig = field(
        default_factory=BiEncoderConfig, metadata={"help": "the dense model fine-tuned as a bi-encoder"}
    )
    lora: LoraConfig = field(default_factory=LoraConfig)
    fusion: FusionSearchConfig = field(default_factory=FusionSearchConfig)
    metrics: RankingConfig = field(
        default_factory=lambda: RankingConfig(ndcg_at=[10], precision_at=[], recall_at=[10, 100]),
        metadata={"help": "test metrics (Recall@k only where there is a corpus)"},
    )
    batch_size: int = field(default=64, metadata={"help": "pairs per batch when scoring"})
    budget: str | None = field(
        default=None,
        metadata={
            "help": "finish within this time (15m, 1h30m, 900), counted from the start: after the data is ready "
            "a short probe estimates each phase, the plan is printed, phases that do not fit are skipped "
            "(warmup.choose's second run first) and each phase's epochs are cut to its share; too little for one "
            "supervised pass is an error naming the minimum. Without it, the estimated total is printed"
        },
    )
    output_dir: str = field(default="runs/recipe", metadata={"help": "data, models, runs, compare.html, recipe.json"})
    overwrite: bool = overwrite_field()
    progress: bool = field(default=True, metadata={"help": "show progress bars"})

    def check(self) -> None:
        if self.subset != "all":
            raise ValueError(f"recipe uses every split (train, val and test); subset must be all, got {self.subset!r}")
        ratios = self.split.ratios
        if len(ratios) != 3 or min(ratios) <= 0:
            raise ValueError(
                f"recipe needs train, validation and test queries: split.ratios must be three shares > 0, got {ratios}"
            )
        if self.budget is not None:
            from rankwright.training.budget import parse_budget

            parse_budget(self.budget, "budget")
        if self.train_queries is not None and self.train_queries < 1:
            raise ValueError(f"train_queries must be at least 1, got {self.train_queries}")
        if self.training.metric_for_best_model.removeprefix("eval_") != "ndcg@10":
            raise ValueError(
                "recipe chooses checkpoints, cross-encoders and the final system by validation nDCG@10: "
                f"training.metric_for_best_model must be ndcg@10, got {self.training.metric_for_best_model!r}"
            )
        if 10 not in self.metrics.ndcg_at:
            raise ValueError(
                f"recipe reports and tests nDCG@10: metrics.ndcg_at must include 10, got {self.metrics.ndcg_at}"
            )

    @property
    def dense_enabled(self) -> bool:
        return bool(self.dense.model) and self.dense.model.lower() != "none"
