"""``rankwright export``: write a standalone model folder; ``merge`` folds LoRA
adapters into the base weights so plain transformers / sentence-transformers load it."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoTokenizer

from rankwright.models.card import write_model_card
from rankwright.models.loading import load_adapter_model, resolve_model_path
from rankwright.models.metadata import ModelMetadata

log = logging.getLogger(__name__)


@dataclass
class ExportConfig:
    model: str = field(default="", metadata={"help": "trained model folder (full weights or LoRA adapter)"})
    output: str = field(default="", metadata={"help": "folder to write"})
    merge: bool = field(default=True, metadata={"help": "merge LoRA adapters into the base weights"})


def merge_adapter(model_dir: str, output: str) -> Path:
    metadata = ModelMetadata.load(model_dir)
    merged = load_adapter_model(model_dir, metadata).merge_and_unload()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    metadata.adapter = False
    metadata.training = {**metadata.training, "merged_from": str(model_dir)}
    metadata.save(out)
    write_model_card(out, metadata)
    return out


def main(config: ExportConfig) -> Path:
    if not config.model or not config.output:
        raise ValueError("export needs model=<folder> and output=<folder>")
    src = resolve_model_path(config.model)
    adapter = ModelMetadata.exists(src) and ModelMetadata.load(src).adapter
    if adapter and config.merge:
        out = merge_adapter(src, config.output)
        log.info("merged LoRA adapter of %s into %s", src, out)
        return out
    if adapter:
        log.warning("%s is a LoRA adapter; exporting it unmerged (set merge=true for a standalone model)", src)
    shutil.copytree(src, config.output, dirs_exist_ok=True)
    return Path(config.output)
