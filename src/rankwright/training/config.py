"""The ``train`` command's configuration: dataclasses only (no torch, transformers or pandas),
so that the command line is built without them; the training code re-exports what it uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rankwright.data.config import DataConfig, LabelConfig, SplitConfig
from rankwright.evaluation.config import RankingConfig
from rankwright.models.prompts import PromptConfig
from rankwright.output_guard import overwrite_field


@dataclass
class ModelConfig:
    name: str = field(default="all-MiniLM-L6-v2", metadata={"help": "Hugging Face model id or local folder"})
    type: str | None = field(
        default=None,
        metadata={"help": "cross-encoder|generative|bi-encoder (default: from the folder's rankwright.json or config)"},
    )
    max_length: int = field(
        default=256,
        metadata={
            "help": "tokens per (query, document); documents cut first. Generative: the prompt counts too and must "
            "leave at least 16 tokens for query and document"
        },
    )
    dtype: str = field(
        default="auto",
        metadata={
            "help": "generative weights: auto (bf16 on a bf16 GPU, else fp32)|float32|bfloat16 (fp32, with a "
            "warning, where the device cannot compute in bf16)"
        },
    )
    attn_implementation: str | None = field(
        default=None, metadata={"help": "sdpa|flash_attention_2|eager (default: transformers' choice)"}
    )
    prompt: PromptConfig = field(default_factory=PromptConfig, metadata={"help": "generative models' prompt"})


@dataclass
class LossConfig:
    name: str = field(
        default="bce", metadata={"help": "bce|ce|mse|margin|ranknet|listwise_ce|listnet; bi-encoders: mnrl|cached_mnrl"}
    )
    params: dict[str, Any] = field(default_factory=dict, metadata={"help": "loss parameters, e.g. {temperature: 0.5}"})


@dataclass
class LoraConfig:
    enabled: bool = field(default=False, metadata={"help": "train LoRA adapters (peft) instead of all weights"})
    r: int = field(default=16, metadata={"help": "LoRA rank"})
    alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    target_modules: list[str] | None = field(
        default=None,
        metadata={"help": "modules to adapt (default: attention projections, q/k/v/o_proj where the model has them)"},
    )
    quantize: str | None = field(default=None, metadata={"help": "4bit: QLoRA on a 4-bit base (CUDA, bitsandbytes)"})


@dataclass
class TrainingConfig:
    epochs: float = field(default=1.0, metadata={"help": "training epochs"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many optimizer steps (-1: epochs decide)"})
    batch_size: int = field(default=32, metadata={"help": "examples (pairs or groups) per device per step"})
    eval_batch_size: int = field(default=128, metadata={"help": "pairs per batch when validating"})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps"})
    learning_rate: float = field(default=2e-5, metadata={"help": "peak learning rate"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "linear warmup share of the steps, then linear decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    bf16: bool = field(
        default=False, metadata={"help": "bf16 mixed precision (an error before training where the device has no bf16)"}
    )
    fp16: bool = field(default=False, metadata={"help": "fp16 mixed precision (CUDA)"})
    eval_strategy: str = field(default="epoch", metadata={"help": "epoch|steps|no"})
    eval_steps: int | None = field(default=None, metadata={"help": "validate every N steps (eval_strategy=steps)"})
    validation_queries: int | None = field(
        default=None,
        metadata={
            "help": "validate on a sample of this many validation queries (drawn once with training.seed, the same "
            "for the whole run and its resumes; none: all of them); calibration still uses them all"
        },
    )
    validation_depth: int | None = field(
        default=None,
        metadata={
            "help": "validate on each validation query's top K candidates only: by first_stage_score where the "
            "validation data has that column (keep it with data.columns.keep; the recipe's validation file is "
            "already in first-stage order), else in the order the file lists them (grouped files list positives "
            "first); none: all"
        },
    )
    save_steps: int = field(default=500, metadata={"help": "checkpoint every N steps"})
    save_total_limit: int | None = field(default=2, metadata={"help": "checkpoints kept"})
    keep_checkpoints: bool = field(
        default=False,
        metadata={
            "help": "keep checkpoint-* (with optimizer states) after a finished run; by default they are removed "
            "(final/ and best/ hold the models) and best/'s files identical to final/'s become hard links"
        },
    )
    metric_for_best_model: str = field(default="ndcg@10", metadata={"help": "validation metric that picks best/"})
    early_stopping_patience: int | None = field(
        default=None,
        metadata={
            "help": "stop when metric_for_best_model has not improved for this many evaluations (needs validation "
            "queries and eval_strategy epoch|steps); final/ is then the model at the stop, best/ the best one"
        },
    )
    early_stopping_threshold: float = field(
        default=0.0,
        metadata={
            "help": "minimum improvement of metric_for_best_model over the best value so far that resets the "
            "early_stopping_patience count"
        },
    )
    logging_steps: int = field(default=50, metadata={"help": "log every N steps"})
    seed: int = field(default=42, metadata={"help": "seed of initialisation, sampling and order"})
    report_to: list[str] = field(default_factory=lambda: ["none"], metadata={"help": "wandb, tensorboard, ..."})
    resume: bool = field(default=False, metadata={"help": "resume from the last checkpoint in output_dir"})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "trade compute for memory"})
    dataloader_num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes"})
    ddp_backend: str | None = field(
        default=None,
        metadata={
            "help": "process-group backend when launched on several processes (torchrun, accelerate launch): "
            "gloo|nccl|... (default: gloo on CPU, the Trainer's choice, nccl, on GPUs); batch_size is per process"
        },
    )
    deepspeed: dict[str, Any] | str | None = field(
        default=None,
        metadata={
            "help": "DeepSpeed config (a JSON file, or the mapping), passed to the Trainer as is (needs the deepspeed "
            "package); untested here. Validation and best/ final/ saving use the whole model on each process and "
            "ranks run the model a different number of times per step, so ZeRO stage 3 is not supported (1-2 may be)"
        },
    )
    fsdp: bool = field(
        default=False,
        metadata={
            "help": "PyTorch FSDP (the Trainer's fsdp=True), set up by fsdp_config, passed as is; untested here, and "
            "not supported yet for the reasons given under deepspeed (FSDP shards the model like ZeRO stage 3)"
        },
    )
    fsdp_config: dict[str, Any] | str | None = field(
        default=None,
        metadata={"help": "the Trainer's FSDP settings (a JSON file, or the mapping), passed as is"},
    )
    budget: str | None = field(
        default=None,
        metadata={
            "help": "finish within this time (15m, 1h30m, 900): a short probe on the real model measures a step and "
            "a validation, then epochs are cut to what fits (the plan is printed first; too little for one pass over "
            "the data is an error naming the minimum) and training stops before the time is up; counted from the "
            "command's start, reading the data included"
        },
    )
    budget_min_epochs: float = field(
        default=1.0,
        metadata={
            "help": "with a budget: the least share of a pass over the data worth training; a budget that cannot fit "
            "it is an error before training (0: train whatever fits)"
        },
    )
    calibration: str | None = field(
        default=None,
        metadata={
            "help": "platt|temperature|isotonic|none: after training, fit score -> P(relevant) on the validation "
            "queries into final/ and best/ (each on its own scores; needs validation queries), so "
            "score(calibrated=True) gives probabilities to threshold; ECE before/after on the test queries"
        },
    )


@dataclass
class SamplingConfig:
    """How training examples are drawn."""

    mode: str = field(default="auto", metadata={"help": "pairs|groups|auto (pairs for pointwise losses)"})
    negatives_per_group: int = field(default=7, metadata={"help": "negatives per group, re-drawn every epoch"})
    positives_per_group: int = field(default=1, metadata={"help": "positives per group (0 = all of them)"})
    hard_ratio: float = field(
        default=1.0, metadata={"help": "share of negatives from the query's own (hard) negatives; rest random"}
    )
    max_group_size: int = field(default=32, metadata={"help": "documents per group for graded losses"})
    max_pairs: int | None = field(default=None, metadata={"help": "pairs mode: use this many pairs (seeded shuffle)"})
    length_grouping: bool = field(
        default=False, metadata={"help": "form batches of similar length (faster, but batches are less random)"}
    )
    length_buckets: int = field(
        default=4,
        metadata={
            "help": "attention groups of a packed batch, or padded chunks of an unpacked one: runs of pairs "
            "of similar length, each padded to its own longest pair (same batch, less padding)"
        },
    )
    packing: bool = field(
        default=True,
        metadata={
            "help": "lay each batch's pairs end to end without padding (models whose attention goes through "
            "transformers' attention interface; others use length_buckets)"
        },
    )


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    val_path: str | None = field(
        default=None, metadata={"help": "separate validation file (same format options); default: split.val"}
    )
    labels: LabelConfig = field(default_factory=LabelConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    metrics: RankingConfig = field(default_factory=RankingConfig)
    output_dir: str = field(default="runs/train", metadata={"help": "checkpoints, best/ and final/ model folders"})
    overwrite: bool = overwrite_field(
        help_text="replace an earlier run's checkpoints, best/ and final/ in output_dir (training.resume: continue it)"
    )
    progress: bool = field(default=True, metadata={"help": "show progress bars"})
