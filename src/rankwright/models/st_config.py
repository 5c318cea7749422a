"""sentence-transformers' own CrossEncoder configuration in a saved cross-encoder folder,
so that ``sentence_transformers.CrossEncoder(path)`` with no arguments truncates at the
folder's ``max_length`` and applies rankwright's sigmoid.

These are the files ``CrossEncoder.save`` writes (sentence-transformers 6.2):
``modules.json`` (one Transformer module in the folder root), ``sentence_bert_config.json``
(sequence classification, logits as scores), ``config_sentence_transformers.json``
(``model_type`` CrossEncoder, ``activation_fn``) and ``model_max_length`` in
``tokenizer_config.json``, which is where ``CrossEncoder(path)`` reads its max_length
from (older versions too). Written only for one-output cross-encoders with full weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rankwright.models.metadata import ModelMetadata

SIGMOID = "torch.nn.modules.activation.Sigmoid"
TOKENIZER_CONFIG = "tokenizer_config.json"


def _write(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def wants_cross_encoder_config(metadata: ModelMetadata) -> bool:
    return metadata.model_type == "cross-encoder" and metadata.num_labels == 1 and not metadata.adapter


def write_cross_encoder_config(folder: str | Path, metadata: ModelMetadata) -> bool:
    """Write the configuration into ``folder`` (which already holds the weights and the
    tokenizer); False, writing nothing, where the folder is not a one-output cross-encoder."""
    if not wants_cross_encoder_config(metadata):
        return False
    folder = Path(folder)
    tokenizer_config = folder / TOKENIZER_CONFIG
    settings = json.loads(tokenizer_config.read_text(encoding="utf-8")) if tokenizer_config.exists() else {}
    settings["model_max_length"] = metadata.max_length
    _write(tokenizer_config, settings)
    module = "sentence_transformers.base.modules.transformer.Transformer"
    _write(folder / "modules.json", [{"idx": 0, "name": "0", "path": "", "type": module}])
    _write(
        folder / "sentence_bert_config.json",
        {
            "transformer_task": "sequence-classification",
            "modality_config": {"text": {"method": "forward", "method_output_name": "logits"}},
            "module_output_name": "scores",
        },
    )
    _write(
        folder / "config_sentence_transformers.json",
        {"model_type": "CrossEncoder", "activation_fn": SIGMOID, "prompts": {}, "default_prompt_name": None},
    )
    return True
