"""SIGKILL after a checkpoint, resume, and end with the weights of a run that was never
interrupted: optimizer, schedule, RNG and the per-epoch negative draw all resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

pytestmark = pytest.mark.slow


def _write_config(tmp_path: Path, data: Path, model: str, out: Path, **training) -> Path:
    config = {
        "data": {"path": str(data)},
        "labels": {"scheme": "graded", "relevant_gain": 2},
        "split": {"ratios": [0.8, 0.2, 0.0], "seed": 3},
        "model": {"name": model, "max_length": 24},
        "loss": {"name": "listwise_ce", "params": {"temperature": 0.7}},
        "sampling": {"negatives_per_group": 2, "hard_ratio": 0.5},
        "training": {
            "epochs": 3,
            "batch_size": 2,
            "learning_rate": 5e-4,
            "save_steps": 5,
            "save_total_limit": 3,
            "eval_strategy": "no",
            "logging_steps": 100,
            "seed": 11,
            **training,
        },
        "output_dir": str(out),
        "progress": False,
    }
    path = tmp_path / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _train(config: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "rankwright.cli", "train", "--config", str(config), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def _weights(folder: Path, model: str = "final") -> dict[str, torch.Tensor]:
    return load_file(str(folder / model / "model.safetensors"))


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path, tiny_bert, write_pointwise):
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=40)
    reference = _train(_write_config(tmp_path, data, tiny_bert, tmp_path / "reference"))
    assert reference.wait(timeout=600) == 0, reference.stderr.read().decode()[-3000:]

    out = tmp_path / "killed"
    config = _write_config(tmp_path, data, tiny_bert, out)
    proc = _train(config)
    # 32 training queries / batch 2 = 16 steps an epoch: step 20 is inside epoch 2.
    marker = out / "checkpoint-20" / "trainer_state.json"
    deadline = time.time() + 600
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert marker.exists(), "no checkpoint-20 was written"
    time.sleep(0.2)  # let the checkpoint's last files land
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    assert not (out / "final").exists()

    resumed = _train(config, "--training.resume", "true")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read().decode()[-3000:]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["resumed_from"] is not None
    assert int(summary["resumed_from"].rsplit("-", 1)[1]) >= 20  # it did resume, mid-training
    ref, res = _weights(tmp_path / "reference"), _weights(out)
    assert ref.keys() == res.keys()
    diff = max((ref[k].float() - res[k].float()).abs().max().item() for k in ref)
    assert diff <= 1e-6, f"max abs weight difference {diff}"


# 5 of the 8 validation queries: the sample is drawn again on resume, the same
VALIDATED = {"eval_strategy": "steps", "eval_steps": 5, "early_stopping_patience": 4, "validation_queries": 5}


def test_resume_keeps_the_best_checkpoint_and_the_summary_of_the_whole_run(tmp_path, tiny_bert, write_pointwise):
    """Validation every 5 steps: after a SIGKILL and a resume, best/ is the uninterrupted
    run's best/ (the best value and the early-stopping count survive the resume), and
    train_summary.json describes the whole run, not only its resumed part."""
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=40)
    reference = _train(_write_config(tmp_path, data, tiny_bert, tmp_path / "reference", **VALIDATED))
    assert reference.wait(timeout=600) == 0, reference.stderr.read().decode()[-3000:]

    out = tmp_path / "killed"
    config = _write_config(tmp_path, data, tiny_bert, out, **VALIDATED)
    proc = _train(config)
    marker = out / "checkpoint-20" / "trainer_state.json"
    deadline = time.time() + 600
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert marker.exists(), "no checkpoint-20 was written"
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"

    resumed = _train(config, "--training.resume", "true")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read().decode()[-3000:]
    ref = json.loads((tmp_path / "reference" / "train_summary.json").read_text())
    res = json.loads((out / "train_summary.json").read_text())
    assert int(res["resumed_from"].rsplit("-", 1)[1]) >= 20
    for key in ("global_steps", "pairs_seen", "best_step", "stopped_early", "validation"):
        assert res[key] == ref[key], key
    assert res["validation"]["queries"] == 5
    assert res["best_validation"] == pytest.approx(ref["best_validation"], abs=1e-6)
    assert [h["step"] for h in res["validation_history"]] == [h["step"] for h in ref["validation_history"]]
    assert res["train_loss"] == pytest.approx(ref["train_loss"], rel=1e-5)
    assert (
        res["early_stopping"]["evaluations_without_improvement"]
        == (ref["early_stopping"]["evaluations_without_improvement"])
    )
    for folder in ("best", "final"):
        a, b = _weights(tmp_path / "reference", folder), _weights(out, folder)
        diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
        assert diff <= 1e-6, f"{folder}: max abs weight difference {diff}"
    best = json.loads((out / "best" / "rankwright.json").read_text())["training"]["best"]
    assert best["step"] == ref["best_step"]
