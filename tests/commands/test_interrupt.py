"""Ctrl-C: one line saying what was left behind, exit code 130, no traceback; a training
run keeps a checkpoint to resume from and otherwise leaves nothing."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import rankwright.cli
from rankwright.cli import main as cli
from rankwright.commands import bm25, train
from rankwright.demo import DEMO_DATA

SRC = Path(rankwright.cli.__file__).resolve().parents[1]


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_partial_output_is_removed_with_the_folder_the_run_created(tmp_path, caplog, monkeypatch):
    out = tmp_path / "runs" / "bm25.trec"

    def write_run(run, path, tag):
        Path(path).write_text("q1 Q0 d1 1 2.0 bm25\n")  # half a run
        raise KeyboardInterrupt

    monkeypatch.setattr(bm25, "write_run", write_run)
    assert cli(["bm25", "--data.path", str(DEMO_DATA), "--output", str(out), "--progress", "false"]) == 130
    assert errors(caplog) == [
        f"interrupted: rankwright bm25; partial output removed from {out.parent}, nothing written"
    ]
    assert list(tmp_path.iterdir()) == []


def _train_argv(out: Path) -> list[str]:
    return ["train", "--data.path", "unused.jsonl", "--output_dir", str(out)]


def test_training_keeps_its_last_checkpoint_and_says_how_to_resume(tmp_path, caplog, monkeypatch):
    out = tmp_path / "model"

    def interrupted(config):
        checkpoint = Path(config.output_dir) / "checkpoint-3"
        checkpoint.mkdir(parents=True)
        (checkpoint / "trainer_state.json").write_text("{}")
        (Path(config.output_dir) / "checkpoint-4").mkdir()  # cut short while saving
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "train", interrupted)
    assert cli(_train_argv(out)) == 130
    checkpoint = out / "checkpoint-3"
    expected = f"interrupted: rankwright train; checkpoint left at {checkpoint}; resume with --training.resume true"
    assert errors(caplog) == [expected]
    assert (checkpoint / "trainer_state.json").exists()


def test_training_without_a_checkpoint_leaves_nothing(tmp_path, caplog, monkeypatch):
    out = tmp_path / "model"

    def interrupted(config):
        (Path(config.output_dir) / "runs" / "tensorboard").mkdir(parents=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "train", interrupted)
    assert cli(_train_argv(out)) == 130
    assert errors(caplog)[-1].startswith("interrupted: rankwright train; partial output removed")
    assert not out.exists()


def test_a_command_stopped_before_writing_says_nothing_was_written(tmp_path, caplog, monkeypatch):
    def interrupted(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "train", interrupted)
    assert cli(_train_argv(tmp_path / "model")) == 130
    assert errors(caplog) == ["interrupted: rankwright train; nothing written"]


def test_sigint_to_a_training_process(tmp_path, tiny_bert, write_pointwise):
    """A real Ctrl-C (SIGINT) to ``rankwright train`` between training steps, after
    validation saved best/ but before any checkpoint: exit code 130, one line naming
    best/, no traceback; best/ stays."""
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=10)
    out = tmp_path / "model"
    argv = ["train", "--data.path", str(data), "--labels.scheme", "graded", "--labels.relevant_gain", "2"]
    argv += ["--model.name", tiny_bert, "--model.max_length", "32", "--training.max_steps", "100000"]
    argv += ["--training.save_steps", "100000", "--output_dir", str(out), "--progress", "false"]
    env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "rankwright", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        # A shell without job control starts background jobs with SIGINT ignored, and a
        # child inherits that (Python then installs no KeyboardInterrupt handler): give
        # the command the SIGINT disposition of a terminal's foreground process.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        lines = []
        for line in process.stderr:  # training is under way once the first validation saved best/
            lines.append(line)
            if "new best" in line:
                break
        process.send_signal(signal.SIGINT)
        stderr = "".join(lines) + process.communicate(timeout=120)[1]
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    (line,) = [line for line in stderr.splitlines() if "interrupted" in line]
    assert line.endswith(
        f"interrupted: rankwright train; no checkpoint to resume from yet; the best model so far is in {out / 'best'}"
    )
    assert (out / "best" / "rankwright.json").exists() and not list(out.glob("checkpoint-*"))


@pytest.fixture(autouse=True)
def _no_rank(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
