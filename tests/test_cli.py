"""The command line answers --help, --version and config errors without loading torch and
the other heavy libraries; flags are never abbreviated."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import rankwright
from rankwright.cli import build_parser, main
from rankwright.commands.registry import COMMANDS

HEAVY = ("torch", "transformers", "pandas", "sentence_transformers", "sklearn", "onnxruntime", "dask", "matplotlib")
SRC = Path(rankwright.__file__).resolve().parents[1]


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a new interpreter (this one has torch loaded by the fixtures) on this checkout's src."""
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": path},
        timeout=120,
    )


def _loaded_heavy(code: str) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """Run ``code``, then report which of HEAVY it loaded (the last stdout line)."""
    done = _fresh_python(f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done


def test_parser_and_configs_load_no_heavy_library():
    loaded, done = _loaded_heavy(
        textwrap.dedent(
            """
            import rankwright.cli as c
            from rankwright.config import build_config

            parser = c.build_parser()
            args = parser.parse_args(["train", "--training.epochs", "2"])
            train = build_config(c.COMMANDS["train"].config_class(), args)
            args = parser.parse_args(["recipe", "--warmup.enabled", "false"])
            recipe = build_config(c.COMMANDS["recipe"].config_class(), args)
            print(train.training.epochs, recipe.warmup.enabled)
            """
        )
    )
    assert done.stdout.splitlines()[0] == "2.0 False"
    assert loaded == []


def test_every_command_help_loads_no_heavy_library():
    names = sorted(COMMANDS)
    loaded, _ = _loaded_heavy(
        "import contextlib, io, rankwright.cli as c\n"
        f"for name in {names!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        c.main([name, '--help'])"
    )
    assert loaded == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--training.epochs", "many"], "training.epochs must be a number"),
        (["recipe", "--mining.ranks", "[1, x]"], "mining.ranks[1] must be a number"),
    ],
)
def test_config_error_is_reported_before_the_command_loads(argv, message):
    loaded, done = _loaded_heavy(f"import rankwright.cli as c\nprint('rc', c.main({argv!r}))")
    assert "rc 2" in done.stdout
    assert message in done.stderr
    assert loaded == []


def test_unknown_yaml_key_is_reported_before_the_command_loads(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("training:\n  epochz: 3\n", encoding="utf-8")
    loaded, done = _loaded_heavy(
        f"import rankwright.cli as c\nprint('rc', c.main(['train', '--config', {str(config)!r}]))"
    )
    assert "rc 2" in done.stdout
    assert "unknown config key training.epochz" in done.stderr
    assert loaded == []


def test_version_prints_the_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"rankwright {rankwright.__version__}\n"


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["compare", "--output", "runs/x", "a.trec", "b.trec"], "--output"),  # not --output_dir
        (["train", "--training.epoch", "2"], "--training.epoch"),  # not --training.epochs
        (["--verb", "split"], "--verb"),  # not --verbose
    ],
)
def test_an_abbreviated_flag_is_an_error_naming_it(argv, flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert f"unrecognized arguments: {flag}" in capsys.readouterr().err


def test_full_flag_names_still_parse():
    args = build_parser().parse_args(["compare", "--output_dir", "runs/x", "a.trec", "b.trec"])
    assert vars(args)["cfg:output_dir"] == "runs/x"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_runs_its_module_main_with_the_same_config_class(name):
    command = COMMANDS[name]
    run = command.runner()
    assert callable(run)
    module = importlib.import_module(run.__module__)
    cls = command.config_class()
    assert getattr(module, cls.__name__) is cls  # the command module re-exports its config
