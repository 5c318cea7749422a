"""``rankwright.json``: what a model folder needs besides the weights to score the
way it was trained. One schema for every model type; later features (calibration,
score fusion, export) fill their own section instead of adding files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

METADATA_FILE = "rankwright.json"
SCHEMA_VERSION = 1
MODEL_TYPES = ("cross-encoder", "generative", "bi-encoder")


@dataclass
class ModelMetadata:
    """The rankwright section of a model folder.

    - ``model_type``: ``cross-encoder`` (sequence-classification head), ``generative``
      (causal LM + prompt + label-token logits) or ``bi-encoder`` (a sentence-transformers
      embedding model: query and document embedded apart, the score is their cosine).
    - ``labels``: the label scheme the model was trained with (``LabelScheme.to_dict()``:
      scheme, gains, classes, relevant_gain).
    - ``num_labels``: model outputs (1 = one relevance logit; N = named classes).
    - ``max_length``: tokens per (query, document) input; documents are truncated first.
    - ``activation``: what turns a raw score into a probability (``sigmoid`` for one
      logit, ``softmax`` over classes); raw scores are the default output.
    - ``score``: how the scalar ranking score is made: ``logit`` (the raw output),
      ``probability`` (its sigmoid; yes/no generative models: P(yes)), ``cosine``
      (bi-encoders) or ``expected_gain`` (class probabilities times class gains / max gain).
    - ``prompt``: generative models' template, instruction and label words.
    - ``calibration``: a fitted map from raw score to probability (method + params).
    - ``fusion``: weights that combine this model's score with first-stage scores.
    - ``export``: what ``rankwright export`` wrote besides the weights (``onnx``: the
      ONNX files, opset, exporter, int8 settings and the check against torch).
    - ``base_model``: where training started (for LoRA adapters, the base to load).
    - ``adapter``: True when the folder holds a LoRA adapter rather than full weights.
    - ``training``: loss, hyper-parameters, data, timing, as recorded by ``train``.
    """

    model_type: str = "cross-encoder"
    num_labels: int = 1
    max_length: int = 512
    labels: dict[str, Any] = field(default_factory=dict)
    activation: str = "sigmoid"
    score: str = "logit"
    prompt: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    fusion: dict[str, Any] | None = None
    export: dict[str, Any] | None = None
    base_model: str | None = None
    adapter: bool = False
    training: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise ValueError(f"model_type must be one of {MODEL_TYPES}, got {self.model_type!r}")

    @property
    def classes(self) -> list[str]:
        return list(self.labels.get("config", {}).get("classes") or self.labels.get("class_gains", {}))

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / METADATA_FILE
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> ModelMetadata:
        path = Path(folder) / METADATA_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not valid JSON ({err}): the model folder is damaged") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a JSON object, got {type(data).__name__}: the model folder is damaged")
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError(f"{path}: schema_version must be a whole number, got {version!r}")
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"{path} has schema_version {data['schema_version']}; this rankwright reads up to {SCHEMA_VERSION}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown keys {unknown}")
        return cls(**data)

    @classmethod
    def exists(cls, folder: str | Path) -> bool:
        return (Path(folder) / METADATA_FILE).exists()
