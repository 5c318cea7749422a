"""The one-command recipe: its configuration (:mod:`~rankwright.recipe.config`), its
steps (candidates, training files, the warm-up and supervised phases, selection on
validation queries, the held-out test) and :func:`run_recipe`
(:mod:`~rankwright.recipe.run`), which runs them in order; ``rankwright recipe`` calls it.

    from rankwright.recipe import RecipeConfig, run_recipe

``RecipeConfig`` is light (dataclasses only); ``run_recipe``, ``main`` and
``RecipeResult`` (and with them torch and pandas) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rankwright.recipe.config import RecipeConfig

if TYPE_CHECKING:
    from rankwright.recipe.run import RecipeResult, main, run_recipe

__all__ = ["RecipeConfig", "RecipeResult", "main", "run_recipe"]
_LAZY = ("RecipeResult", "main", "run_recipe")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from rankwright.recipe import run

        return getattr(run, name)
    raise AttributeError(f"module 'rankwright.recipe' has no attribute {name!r}")
