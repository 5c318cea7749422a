"""The model ``train`` trains and the head that feeds it: a cross-encoder or a
generative (causal LM) reranker, with LoRA adapters (on a 4-bit base for QLoRA)."""

from __future__ import annotations

import logging

from rankwright.data.labels import LabelScheme
from rankwright.losses.base import RerankLoss
from rankwright.models.cross_encoder import CrossEncoderHead
from rankwright.models.generative import GenerativeHead
from rankwright.models.loading import load_causal_lm, load_sequence_classifier, load_tokenizer, quantization_config
from rankwright.models.prompts import build_prompt
from rankwright.training.checks import TrainingSetupError, check_prompt_room
from rankwright.training.config import TrainConfig

log = logging.getLogger(__name__)


ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")


def _lora_targets(model, config: TrainConfig, generative: bool) -> list[str] | None:
    if config.lora.target_modules or not generative:
        return config.lora.target_modules  # cross-encoders: peft's per-architecture defaults
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    found = [p for p in ATTENTION_PROJECTIONS if p in names]
    return found or None


def _apply_lora(model, config: TrainConfig, generative: bool):
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training

    if config.lora.quantize:
        # Casts norms to fp32 and enables input gradients, as 4-bit training needs.
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.training.gradient_checkpointing
        )
    lora = LoraConfig(
        task_type=TaskType.CAUSAL_LM if generative else TaskType.SEQ_CLS,
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=_lora_targets(model, config, generative),
    )
    model = get_peft_model(model, lora)
    trainable, total = model.get_nb_trainable_parameters()
    log.info(
        "LoRA on %s: %d of %d parameters trainable (%.2f%%)",
        sorted(model.peft_config["default"].target_modules),
        trainable,
        total,
        100 * trainable / total,
    )
    return model


def model_and_head(config: TrainConfig, model_type: str, scheme: LabelScheme, loss: RerankLoss):
    """The model to train and the head that feeds it (cross-encoder or generative)."""
    m = config.model
    kwargs = {"attn_implementation": m.attn_implementation} if m.attn_implementation else {}
    if config.lora.quantize and not config.lora.enabled:
        raise TrainingSetupError("lora.quantize (QLoRA) trains adapters on a 4-bit base: set lora.enabled true")
    num_labels = len(scheme.classes) if loss.multi_class else 1
    if model_type == "generative":
        # The head first: its prompt and label words are checked before the weights load.
        tokenizer = load_tokenizer(m.name)
        classes = scheme.classes if loss.multi_class else None
        head = GenerativeHead(tokenizer, build_prompt(m.prompt, tokenizer, classes), m.max_length, num_labels)
        check_prompt_room(head, m.max_length)
        model, tokenizer = load_causal_lm(
            m.name, dtype=m.dtype, quantize=config.lora.quantize, tokenizer=tokenizer, **kwargs
        )
    else:
        quant = quantization_config(config.lora.quantize, m.dtype)
        if quant is not None:
            kwargs["quantization_config"] = quant
        model, tokenizer = load_sequence_classifier(m.name, num_labels, **kwargs)
        head = CrossEncoderHead(tokenizer, m.max_length, num_labels)
    if config.lora.enabled:
        model = _apply_lora(model, config, model_type == "generative")
    return model, tokenizer, head
