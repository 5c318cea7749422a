"""kill -9 a recipe inside its supervised phase, rerun the same command: the warm-up is
reused, the supervised phase resumes from its checkpoint, and the final test table
equals the one of a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

WORDS = ["drill", "sofa", "lamp", "kettle", "hose", "table", "chair", "fan", "rug", "bulb"]


def _beir(write_beir, folder: Path) -> Path:
    docs, queries, qrels = {}, {}, []
    for q in range(30):
        w = WORDS[q % len(WORDS)]
        queries[f"q{q}"] = f"cordless {w} for the garden"
        docs[f"d{q}a"] = f"a cordless {w} that works in any garden"
        docs[f"d{q}b"] = f"{w} spare parts and garden tools"
        docs[f"d{q}c"] = f"kitchen recipes number {q}"
        qrels += [(f"q{q}", f"d{q}a", 2), (f"q{q}", f"d{q}b", 1)]
    return write_beir(folder, docs, queries, qrels)


def _config(tmp_path: Path, data: Path, model: str, out: Path) -> Path:
    config = {
        "data": {"path": str(data)},
        "model": {"name": model, "max_length": 32},
        "training": {"epochs": 2, "batch_size": 4, "save_steps": 2, "eval_batch_size": 64, "logging_steps": 5},
        "warmup": {"epochs": 1, "choose": False},
        "bi_encoder": {"enabled": False},
        "retriever": {"top_k": 10},
        "validation_depth": 5,
        "mining": {"ranks": [1, 10], "negatives": 3},
        "fusion": {"grid": 4},
        "output_dir": str(out),
        "progress": False,
    }
    path = tmp_path / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _recipe(config: Path) -> subprocess.Popen:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "rankwright.cli", "recipe", "--config", str(config)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def test_a_killed_recipe_rerun_gives_the_uninterrupted_table(tmp_path, tiny_bert, write_beir):
    data = _beir(write_beir, tmp_path / "beir")
    reference = _recipe(_config(tmp_path, data, tiny_bert, tmp_path / "reference"))
    assert reference.wait(timeout=900) == 0, reference.stderr.read().decode()[-3000:]

    out = tmp_path / "killed"
    config = _config(tmp_path, data, tiny_bert, out)
    proc = _recipe(config)
    deadline = time.time() + 900
    while proc.poll() is None and time.time() < deadline:
        if any((p / "trainer_state.json").exists() for p in (out / "reranker").glob("checkpoint-*")):
            break
        time.sleep(0.02)
    time.sleep(0.2)  # let the checkpoint's last files land
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the recipe finished before it could be killed"
    assert (out / "warmup" / "phase.json").exists() and not (out / "recipe.json").exists()

    rerun = _recipe(config)
    assert rerun.wait(timeout=900) == 0
    log = rerun.stderr.read().decode()
    assert "phase warmup: finished in an earlier run" in log and "phase reranker: resuming" in log
    ref = json.loads((tmp_path / "reference" / "recipe.json").read_text())
    res = json.loads((out / "recipe.json").read_text())
    assert res["selection"]["chosen"] == ref["selection"]["chosen"]
    assert res["test"]["ranking"].keys() == ref["test"]["ranking"].keys()
    for name, summary in ref["test"]["ranking"].items():
        for metric, value in summary["all"].items():
            assert res["test"]["ranking"][name]["all"][metric] == pytest.approx(value, abs=1e-6), (name, metric)
