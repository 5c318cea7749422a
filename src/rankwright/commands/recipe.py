"""The old home of the recipe's Python API, kept for one release: ``rankwright recipe``
and its orchestration now live in :mod:`rankwright.recipe` (``RecipeConfig``,
``run_recipe``, ``main``; the steps in its submodules).

Importing a name from here still works but warns (``DeprecationWarning``) with its new
path. The command line does not come through here (see
:mod:`rankwright.commands.registry`), so it never warns.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

_API = "rankwright.recipe"
#: name -> the module it moved to (the recipe's Python API: the package itself).
_MOVED: dict[str, str] = {
    "RecipeConfig": _API,
    "RecipeResult": _API,
    "main": _API,
    "run_recipe": _API,
    "BiEncoderConfig": "rankwright.recipe.config",
    "FusionSearchConfig": "rankwright.recipe.config",
    "WarmupConfig": "rankwright.recipe.config",
    "Clock": "rankwright.recipe.clock",
    "Prepared": "rankwright.recipe.prepare",
    "prepare": "rankwright.recipe.prepare",
    "sample_queries": "rankwright.recipe.prepare",
    "training_pairs": "rankwright.recipe.prepare",
    "_choice_summary": "rankwright.recipe.run",
    "_phase_summary": "rankwright.recipe.run",
    "_store_fusion": "rankwright.recipe.shipping",
    "select_system": "rankwright.recipe.shipping",
    "shipped_model": "rankwright.recipe.shipping",
    "Trained": "rankwright.recipe.training",
    "train_bi_encoder": "rankwright.recipe.training",
    "train_reranker": "rankwright.recipe.training",
}

__all__ = sorted(_MOVED)


def __getattr__(name: str) -> Any:
    new = _MOVED.get(name)
    if new is None:
        raise AttributeError(f"module 'rankwright.commands.recipe' has no attribute {name!r}")
    warnings.warn(
        f"rankwright.commands.recipe.{name} is deprecated and will be removed in the next release: "
        f"use `from {new} import {name}`",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(new), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_MOVED})
