"""The commands of the ``rankwright`` command line: each one's config class and ``main``,
named by import path so that building the parser imports only the (light) config modules
and a command's code, with torch, transformers and pandas, loads only when it runs."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Command:
    config: str  # "module:ConfigClass", a module free of heavy imports
    main: str  # "module:function", imported only to run the command
    help: str

    def config_class(self) -> type:
        return _resolve(self.config)

    def runner(self) -> Callable[[Any], Any]:
        return _resolve(self.main)


_CONFIGS = "rankwright.commands.configs"


def _command(name: str, config: str, help_text: str, config_module: str = _CONFIGS) -> Command:
    module = name.replace("-", "_")
    return Command(f"{config_module}:{config}", f"rankwright.commands.{module}:main", help_text)


COMMANDS: dict[str, Command] = {
    "split": _command("split", "SplitCommandConfig", "split relevance data by query into train/val/test"),
    "evaluate": _command("evaluate", "EvaluateConfig", "score data (BM25 or a run) and report metrics"),
    "compare": _command(
        "compare",
        "CompareConfig",
        "evaluate two or more runs on the same qrels, with paired tests against a baseline run",
    ),
    "bm25": _command("bm25", "BM25CommandConfig", "write a BM25 run (rerank candidates or retrieve)"),
    "mine": _command("mine", "MineConfig", "mine hard negatives with BM25 or a dense retriever into grouped JSONL"),
    "pairs": _command(
        "pairs",
        "PairsConfig",
        "interactions + items -> (user context, item text, label) pairs per split on Dask; baselines",
        "rankwright.interactions.config",
    ),
    "train": _command(
        "train", "TrainConfig", "fine-tune a cross-encoder or generative reranker", "rankwright.training.config"
    ),
    "rerank": _command("rerank", "RerankConfig", "rescore a run or candidates with a model, write a run"),
    "retrieve-rerank": _command(
        "retrieve-rerank",
        "RetrieveRerankConfig",
        "first stage top-k from the corpus, rerank with a model, evaluate both side by side",
    ),
    "teacher-score": _command(
        "teacher-score", "TeacherScoreConfig", "add a trained reranker's scores to grouped JSONL (for distillation)"
    ),
    "calibrate": _command(
        "calibrate",
        "CalibrateConfig",
        "fit score -> P(relevant) on validation queries into the model folder; ECE before/after",
    ),
    "fuse": _command(
        "fuse",
        "FuseConfig",
        "fit a fusion of the model's score with first-stage (and dense) scores on validation queries",
    ),
    # the recipe's code is rankwright.recipe's (rankwright.commands.recipe is its deprecated old path)
    "recipe": Command(
        "rankwright.recipe.config:RecipeConfig",
        "rankwright.recipe:main",
        "split, first stage, zero-shot dense rerank, mine, train, select on validation, evaluate on test",
    ),
    "export": _command(
        "export",
        "ExportConfig",
        "write a standalone model folder (merge LoRA adapters; ONNX and int8 ONNX, evaluated against torch)",
    ),
    "quickstart": _command("quickstart", "QuickstartConfig", "train and evaluate on the built-in demo data"),
    "serve": _command("serve", "ServeConfig", "serve a model over HTTP: POST /rerank, GET /health, GET /metrics"),
}
