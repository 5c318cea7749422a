"""The recipe's two training phases, each an ordinary ``rankwright train`` run.

1. Warm-up (optional): the cross-encoder learns the dense teacher's cosine on every
   training pair (``margin_mse`` by default: the teacher's score differences within a
   query), so it starts from what the embedding model knows instead of a random head.
2. Supervised: from the warm-up's best checkpoint (else the base encoder), the judged
   labels, with validation every epoch, the best checkpoint kept and early stopping.
3. With ``warmup.choose`` (the default), the supervised phase also runs from the base
   encoder; of the two supervised runs and the warm-up model itself, the one with the
   highest validation nDCG@10 is kept (:class:`RerankerChoice`): the warm-up helps most
   on tiny data and can cost a little on larger data, so whether it is used is a
   validation decision like any checkpoint choice.
4. The fine-tuned bi-encoder (:func:`fine_tune_bi_encoder`): the zero-shot dense model
   trained on the same pairs with in-batch negatives (``model.type: bi-encoder``), a
   candidate of its own and a fusion component.

Each phase runs through :func:`~rankwright.recipe.resume.run_phase`: a phase that
finished in an earlier run of the same recipe is reused, an interrupted one resumes.
All read the recipe's parquet files, whose label is the judged gain: the label
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
from rankwright.recipe.config import BiEncoderConfig, WarmupConfig
from rankwright.recipe.resume import run_phase
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
    inputs: PhaseInputs,
    *,
    model_name: str,
    loss: LossConfig,
    output_dir: Path,
    model_type: str | None = None,
    **training,
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
        model=replace(inputs.model, name=model_name, type=model_type or inputs.model.type),
        loss=loss,
        sampling=sampling,
        training=replace(inputs.training, **training),
        lora=inputs.lora,
        metrics=inputs.metrics,
        output_dir=str(output_dir),
        progress=inputs.progress,
    )


def budgeted(budget_s: float | None) -> dict[str, object]:
    """A phase's ``training`` overrides for its share of a recipe's budget (its epochs are
    cut to fit, never refused: the recipe's plan decided that it runs)."""
    return {} if budget_s is None else {"budget": f"{budget_s:.0f}s", "budget_min_epochs": 0.0}


def warm_up(inputs: PhaseInputs, config: WarmupConfig, output_dir: Path, budget_s: float | None = None) -> TrainResult:
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
        **budgeted(budget_s),
    )
    return run_phase(phase, train)


def supervised(
    inputs: PhaseInputs,
    model_name: str,
    loss: LossConfig,
    output_dir: Path,
    model_type: str | None = None,
    budget_s: float | None = None,
) -> TrainResult:
    """Phase 2: the judged labels, from ``model_name`` (the warm-up's model, the base, or
    with ``model_type`` cross-encoder the fine-tuned bi-encoder's encoder)."""
    config = phase_config(
        inputs, model_name=model_name, loss=loss, output_dir=output_dir, model_type=model_type, **budgeted(budget_s)
    )
    return run_phase(config, train)


def fine_tune_bi_encoder(
    inputs: PhaseInputs, config: BiEncoderConfig, base: str, output_dir: Path, budget_s: float | None = None
) -> TrainResult:
    """The dense model ``base`` fine-tuned as a bi-encoder on the recipe's pairs; best
    checkpoint by validation nDCG@10, early stopping after one worse epoch."""
    phase = phase_config(
        replace(
            inputs,
            # the recipe's model and sampling options are the cross-encoders': a bi-encoder uses none of them
            model=ModelConfig(name=inputs.model.name, type="bi-encoder", max_length=config.max_length),
            sampling=SamplingConfig(negatives_per_group=config.negatives, positives_per_group=0),
            lora=LoraConfig(),  # the recipe's lora settings are the cross-encoder's: the dense model trains whole
        ),
        model_name=base,
        loss=config.loss,
        output_dir=output_dir,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        early_stopping_patience=1,
        calibration=None,
        **budgeted(budget_s),
    )
    return run_phase(phase, train)


VALIDATION_KEY = "eval_ndcg@10"


def best_validation(result: TrainResult) -> float:
    """A supervised run's best validation nDCG@10 (the score that chose its checkpoint)."""
    value = (result.metrics.get("best_validation") or {}).get(VALIDATION_KEY)
    if value is None:
        raise ValueError(f"the training run in {result.output_dir} recorded no validation {VALIDATION_KEY}")
    return float(value)


#: The cross-encoders a recipe can keep, in the order ties are broken: the supervised
#: run from the warm-up, from the base encoder, from the fine-tuned bi-encoder's
#: encoder, and the warm-up model itself.
RUN_NAMES = {
    "with_warmup": "trained with the teacher warm-up",
    "without_warmup": "trained without the teacher warm-up",
    "from_biencoder": "trained from the fine-tuned bi-encoder's encoder",
    "warmup_only": "of the teacher warm-up alone (no supervised phase)",
}
ROW_NAMES = {
    "with_warmup": "with warm-up",
    "without_warmup": "without warm-up",
    "from_biencoder": "from the bi-encoder",
    "warmup_only": "warm-up only",
}


@dataclass
class RerankerChoice:
    """Which trained cross-encoder is kept: the highest best validation nDCG@10 among
    the runs given (``RUN_NAMES`` keys; ties keep the earlier one). Best-checkpoint
    tracking restarts with each training phase, so the warm-up model itself competes
    here: a supervised phase that only made it worse cannot replace it."""

    runs: dict[str, TrainResult]

    def __post_init__(self) -> None:
        unknown = sorted(set(self.runs) - set(RUN_NAMES))
        if unknown or not self.runs:
            raise ValueError(f"runs must be some of {list(RUN_NAMES)}, got {sorted(self.runs)}")
        self.runs = {name: self.runs[name] for name in RUN_NAMES if name in self.runs}

    @property
    def scores(self) -> dict[str, float]:
        return {name: best_validation(run) for name, run in self.runs.items()}

    @property
    def kept_name(self) -> str:
        scores = self.scores
        best = max(scores.values())
        return next(name for name, value in scores.items() if value >= best)

    @property
    def kept(self) -> TrainResult:
        return self.runs[self.kept_name]

    @property
    def others(self) -> dict[str, TrainResult]:
        return {name: run for name, run in self.runs.items() if name != self.kept_name}

    def message(self) -> str:
        s = self.scores
        against = ", ".join(f"{s[name]:.4f} {ROW_NAMES[name]}" for name in self.others)
        return (
            f"reranker: kept the model {RUN_NAMES[self.kept_name]} (validation {VALIDATION_KEY[5:]} "
            f"{s[self.kept_name]:.4f}" + (f"; against {against})" if against else ")")
        )

    def to_dict(self) -> dict:
        return {"validation": self.scores, "kept": self.kept_name}
