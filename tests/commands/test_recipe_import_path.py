"""``rankwright.commands.recipe``, the recipe's old import path, still works for one
release but warns with the new path; the command line never goes through it."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rankwright.recipe
from rankwright.commands.registry import COMMANDS
from rankwright.recipe.prepare import sample_queries


def test_the_old_path_warns_with_the_new_one():
    with pytest.warns(DeprecationWarning, match=r"from rankwright\.recipe import RecipeConfig"):
        from rankwright.commands.recipe import RecipeConfig
    assert RecipeConfig is rankwright.recipe.RecipeConfig
    with pytest.warns(DeprecationWarning, match=r"from rankwright\.recipe\.prepare import sample_queries"):
        from rankwright.commands.recipe import sample_queries as old
    assert old is sample_queries
    with pytest.raises(ImportError):
        from rankwright.commands.recipe import no_such_name  # noqa: F401


def test_the_command_line_does_not_use_the_old_path():
    command = COMMANDS["recipe"]
    assert not command.main.startswith("rankwright.commands.recipe")
    code = (
        "import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
        "import sys; from rankwright.commands.registry import COMMANDS\n"
        "command = COMMANDS['recipe']; command.config_class(); main = command.runner()\n"
        "print(main.__module__, 'rankwright.commands.recipe' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["rankwright.recipe.run", "False"]
