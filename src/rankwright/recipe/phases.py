"""The recipe's two training phases, each an ordinary ``rankwright train`` run.

1. Warm-up (optional): the cross-encoder learns the dense teacher's cosine on every
   training pair (``margin_mse`` by default: the teacher's score differences within a
   query), so it starts from what the embedding model knows instead of a random head.
2. Supervised: from the warm-up's best checkpoint (else the base encoder), the judged
   labels, with validation every epoch, the best checkpoint kept and early stopping.
3. With ``warmup.choose`` (the default), the supervised phase also runs from the base
   encoder, and the reranker with the higher validation nDCG@10 is kept: the warm-up
   helps most on tiny data and can cost a little on larger data, so whether it is
   used is a validation decision like any checkpoint choice.

Both read the recipe's parquet files, whose label is the judged gain: the label
scheme is graded with the data's relevance cut-off, and MSE targets are gain / max gain.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from rankwright.data.labels import LabelConfig
from rankwright.data.readers import DataConfig
from rankwright.data.readers.tables import ColumnMap
from rankwright.data.records import SCORE
from rankwright.evaluation.ranking import RankingConfig
from rankwright.recipe.config import WarmupConfig
from rankwright.training.config import LoraConfig, LossConfig, ModelConfig, TrainConfig, TrainingConfig
from rankwright.training.run import TrainResult, train
from rankwright.training.sampling import SamplingConfig


@dataclass
class PhaseInputs:
    """What both phases share: the files, the label cut-off and the model settings."""

    train_file: Path
    val_file: Path
    relevant_gain: int
    max_gain: int
    model: ModelConfig
    sampling: SamplingConfig
    training: TrainingConfig
    lora: LoraConfig
    metrics: RankingConfig
    progress: bool


def phase_config(
    inputs: PhaseInputs, *, model_name: str, loss: LossConfig, output_dir: Path, **training
) -> TrainConfig:
    """A ``train`` configuration over the recipe's files; ``training`` overrides fields
    of the recipe's training settings (e.g. epochs, learning_rate)."""
    grouped_teacher = loss.name in ("margin_mse", "listwise_kl")
    sampling = replace(inputs.sampling, mode="groups", hard_ratio=1.0) if grouped_teacher else inputs.sampling
    return TrainConfig(
        data=DataConfig(path=str(inputs.train_file), columns=ColumnMap(keep=[SCORE])),
        val_path=str(inputs.val_file),
        labels=LabelConfig(
            scheme="graded", relevant_gain=inputs.relevant_gain, target_range=[0.0, float(max(inputs.max_gain, 1))]
        ),
        model=replace(inputs.model, name=model_name),
        loss=loss,
        sampling=sampling,
        training=replace(inputs.training, **training),
        lora=inputs.lora,
        metrics=inputs.metrics,
        output_dir=str(output_dir),
        progress=inputs.progress,
    )


def warm_up(inputs: PhaseInputs, config: WarmupConfig, output_dir: Path) -> TrainResult:
    """Phase 1: the teacher's scores as soft labels; best checkpoint by validation nDCG@10."""
    phase = phase_config(
        inputs,
        model_name=inputs.model.name,
        loss=config.loss,
        output_dir=output_dir,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        early_stopping_patience=None,
        calibration=None,
    )
    return train(phase)


def supervised(inputs: PhaseInputs, model_name: str, loss: LossConfig, output_dir: Path) -> TrainResult:
    """Phase 2: the judged labels, from ``model_name`` (the warm-up's model or the base)."""
    return train(phase_config(inputs, model_name=model_name, loss=loss, output_dir=output_dir))


VALIDATION_KEY = "eval_ndcg@10"


def best_validation(result: TrainResult) -> float:
    """A supervised run's best validation nDCG@10 (the score that chose its checkpoint)."""
    value = (result.metrics.get("best_validation") or {}).get(VALIDATION_KEY)
    if value is None:
        raise ValueError(f"the training run in {result.output_dir} recorded no validation {VALIDATION_KEY}")
    return float(value)


@dataclass
class WarmupChoice:
    """Which of the two supervised runs (from the warm-up, from the base encoder) is kept."""

    with_warmup: TrainResult
    without_warmup: TrainResult

    @property
    def scores(self) -> dict[str, float]:
        return {
            "with_warmup": best_validation(self.with_warmup),
            "without_warmup": best_validation(self.without_warmup),
        }

    @property
    def kept_warmup(self) -> bool:
        """Ties keep the warm-up (the default recipe)."""
        s = self.scores
        return s["with_warmup"] >= s["without_warmup"]

    @property
    def kept(self) -> TrainResult:
        return self.with_warmup if self.kept_warmup else self.without_warmup

    @property
    def other(self) -> TrainResult:
        return self.without_warmup if self.kept_warmup else self.with_warmup

    def message(self) -> str:
        s = self.scores
        kept, other = ("with", "without") if self.kept_warmup else ("without", "with")
        return (
            f"warm-up: kept the reranker trained {kept} the teacher warm-up (validation {VALIDATION_KEY[5:]} "
            f"{s[f'{kept}_warmup']:.4f}, against {s[f'{other}_warmup']:.4f} {other} it)"
        )

    def to_dict(self) -> dict:
        return {"validation": self.scores, "kept": "with_warmup" if self.kept_warmup else "without_warmup"}
