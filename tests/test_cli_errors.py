"""User mistakes end a command with exit code 2 and one line naming the file or model and
the fix, never a traceback (``-v`` shows it, for debugging); a bug still raises."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rankwright
import rankwright.models.locate as locate
from rankwright import cli

SRC = Path(rankwright.__file__).resolve().parents[1]
ROWS = [("red shoe", "red running shoe", 1), ("red shoe", "blue hat", 0), ("lamp", "desk lamp", 1), ("lamp", "rug", 0)]


@pytest.fixture
def pairs(tmp_path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"query": q, "doc": d, "label": y}) + "\n" for q, d, y in ROWS))
    return path


@pytest.fixture(autouse=True)
def _no_hub(monkeypatch):
    for variable in locate.OFFLINE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    locate._ask_hub.cache_clear()


def _fails_cleanly(argv: list[str], capsys, caplog) -> str:
    """Run the command line: exit code 2, no traceback anywhere, one error line; returns it."""
    with caplog.at_level(logging.INFO):
        assert cli.main(argv) == 2
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err + caplog.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and not errors[0].exc_info
    message = errors[0].getMessage()
    assert "\n" not in message
    return message


MISSING_MODEL = "model not found: /nope (no such folder or file; give a model folder, such as a train run's best/"


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--scorer", "model", "--model", "/nope"],
        ["rerank", "--model", "/nope", "--output", "{tmp}/run.trec"],
        ["train", "--model.name", "/nope", "--split.ratios", "[1, 0, 0]"],
    ],
    ids=["evaluate", "rerank", "train"],
)
def test_a_model_path_that_does_not_exist_is_one_line(argv, pairs, tmp_path, capsys, caplog):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    argv += ["--data.path", str(pairs)] + ([] if argv[0] == "rerank" else ["--output_dir", str(tmp_path / "out")])
    assert _fails_cleanly(argv, capsys, caplog).startswith(MISSING_MODEL)


def test_an_offline_hub_name_fails_at_once_naming_the_setting(pairs, tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    argv = ["evaluate", "--scorer", "model", "--model", "org/nope", "--data.path", str(pairs)]
    message = _fails_cleanly([*argv, "--output_dir", str(tmp_path / "out")], capsys, caplog)
    assert message.startswith("model not found: org/nope (no such folder, and not in the Hugging Face cache;")
    assert "HF_HUB_OFFLINE is set" in message


def test_an_os_error_of_transformers_is_one_line_and_v_shows_its_traceback(
    pairs, tmp_path, tiny_cross_encoder, capsys, caplog
):
    """A folder with a config but no weights: transformers raises an OSError."""
    folder = tmp_path / "no-weights"
    folder.mkdir()
    shutil.copy(Path(tiny_cross_encoder) / "config.json", folder)
    argv = ["evaluate", "--scorer", "model", "--model", str(folder), "--data.path", str(pairs)]
    argv += ["--output_dir", str(tmp_path / "out")]
    assert str(folder) in _fails_cleanly(argv, capsys, caplog)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert cli.main(["-v", *argv]) == 2
    assert "Traceback" in caplog.text and "OSError" in caplog.text


SEMI, TABS = "query;doc;label\nred shoe;red shoe;1\n", "query\tdoc\tlabel\nred shoe\tred shoe\t1\n"
NO_LABEL = "query,doc\nred shoe,red shoe\n"


@pytest.mark.parametrize(
    "name, text, said",
    [
        ("empty.csv", "", ": is empty (0 bytes)"),
        ("header.csv", "query,doc,label\n", ": has no rows (only a header: ['query', 'doc', 'label'])"),
        ("semi.csv", SEMI, "semicolon-separated, not comma-separated; pass --data.sep ';'"),
        ("tabs.csv", TABS, "tab-separated, not comma-separated; rename it to .tsv or pass --data.sep tab"),
        (
            "nolabel.csv",
            "query,doc\nred shoe,red shoe\n",
            "no 'label'; name the label column with --data.columns.label",
        ),
        ("bad.jsonl", '{"query": "a"}\n{"query": "b\n', ", line 2: malformed JSON at column 13: Invalid control"),
    ],
)
def test_a_data_file_that_cannot_be_read_names_itself_and_the_fix(name, text, said, tmp_path, capsys, caplog):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    argv = ["evaluate", "--data.path", str(path), "--output_dir", str(tmp_path / "out")]
    message = _fails_cleanly(argv, capsys, caplog)
    assert message.startswith(str(path)) and said in message


def test_a_config_that_is_not_yaml_names_the_line(tmp_path, capsys, caplog):
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  path: x\n   labels: 3\n", encoding="utf-8")
    message = _fails_cleanly(["evaluate", "--config", str(config)], capsys, caplog)
    assert message == f"{config}, line 3, column 10: not valid YAML (mapping values are not allowed here)"


def test_a_bug_is_not_hidden(monkeypatch):
    def broken(config):
        raise KeyError("a bug")

    monkeypatch.setattr("rankwright.commands.evaluate.main", broken)
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["evaluate", "--data.path", "x"])


def test_the_command_line_prints_no_traceback_for_a_missing_model(pairs, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)}
    argv = ["evaluate", "--scorer", "model", "--model", "/nope", "--data.path", str(pairs)]
    done = subprocess.run(
        [sys.executable, "-m", "rankwright", *argv, "--output_dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and MISSING_MODEL in errors[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["evaluate", "--eval.metrics.ndcg_at", "0"], "metrics.ndcg_at cut-offs must be whole numbers >= 1, got [0]"),
        (["evaluate", "--eval.random_repeats", "0"], "eval.random_repeats (shuffles averaged for the random row)"),
        (["evaluate", "--run", "{tmp}/nan.run"], "nan.run, line 1: score 'nan' is not a finite number"),
        (
            ["bm25", "--bm25.stemmer", "klingon", "--output", "{tmp}/b.trec"],
            "bm25.stemmer 'klingon' is not a PyStemmer",
        ),
        (["bm25", "--bm25.b", "7", "--output", "{tmp}/b.trec"], "bm25.b must be in [0, 1], got 7.0"),
        (
            ["bm25", "--bm25.shards", "0", "--output", "{tmp}/b.trec"],
            "bm25.shards must be a positive integer (1: one index), got 0",
        ),
        (["split", "--data.encoding", "klingon", "--output_dir", "{tmp}/s"], "data.encoding 'klingon' is not a text"),
        (["train", "--training.epochs", "-1"], "training.epochs -1.0 with training.max_steps -1 trains nothing"),
        (["train", "--training.grad_accum", "0"], "training.grad_accum must be at least 1, got 0"),
        (["train", "--training.learning_rate", "-1"], "training.learning_rate cannot be negative, got -1.0"),
        (["mine", "--mining.block", "-5", "--output", "{tmp}/m.jsonl"], "mining.block (queries processed together)"),
        (["compare", "--runs", "{tmp}/nan.run,{tmp}/nan.run", "--rounds", "0"], "rounds (sign flips of the rando"),
        (["serve", "--model", "/nope", "--port", "70000"], None),
        (["rerank", "--model", "/nope", "--run", "{tmp}/ok.run", "--top_k", "0"], None),
    ],
)
def test_values_out_of_range_are_clear_errors_before_any_work(argv, expected, pairs, tmp_path, capsys, caplog):
    """Each used to crash (trec_eval aborting the process on a cut-off of 0, tracebacks),
    or to exit 0 having done nothing useful (no training steps, an empty mined file)."""
    (tmp_path / "nan.run").write_text("q1 Q0 d1 1 nan sys\nq1 Q0 d2 2 1.0 sys\n")
    (tmp_path / "ok.run").write_text("q1 Q0 d1 1 2.0 sys\n")
    (tmp_path / "pairs.csv").write_text("query,doc,label\nred shoe,red running shoe,1\nred shoe,blue hat,0\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    command = argv[0]
    data = {"serve": [], "split": ["--data.path", str(tmp_path / "pairs.csv")]}.get(
        command, ["--data.path", str(pairs)]
    )
    progress = [] if command in ("serve", "split", "compare") else ["--progress", "false"]
    message = _fails_cleanly([*argv, *data, *progress], capsys, caplog)
    if expected is None:  # serve's port, rerank's top_k: checked before the (missing) model is looked for
        expected = "port must be 0..65535, got 70000" if argv[0] == "serve" else "top_k must be at least 1"
    assert expected in message
