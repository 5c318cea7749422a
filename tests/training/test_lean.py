"""A finished run keeps one copy of each model: checkpoints removed unless kept, best/
files identical to final/'s hard-linked, the folder size in train_summary.json."""

from __future__ import annotations

import json
import os

import pytest

from rankwright.config import from_dict
from rankwright.training.config import TrainConfig
from rankwright.training.lean import folder_bytes, link_identical, slim_output
from rankwright.training.run import train


def test_identical_files_become_one_copy_and_others_stay(tmp_path):
    final, best = tmp_path / "final", tmp_path / "best"
    for folder, weights in ((final, b"w" * 1000), (best, b"w" * 1000)):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(weights)
    (final / "README.md").write_text("final card")
    (best / "README.md").write_text("best card")
    before = folder_bytes(tmp_path)
    assert link_identical(final, best) == ["best/model.safetensors"]
    assert os.path.samefile(best / "model.safetensors", final / "model.safetensors")
    assert (best / "README.md").read_text() == "best card"
    assert folder_bytes(tmp_path) == before - 1000
    assert link_identical(final, best) == []  # already one file


@pytest.mark.parametrize("keep", [False, True])
def test_a_finished_run_is_lean_unless_checkpoints_are_kept(tmp_path, tiny_bert, write_pointwise, keep):
    data = write_pointwise(tmp_path / "train.jsonl", n_queries=12)
    out = tmp_path / "out"
    config = from_dict(
        TrainConfig,
        {
            "data": {"path": str(data)},
            "labels": {"scheme": "graded", "relevant_gain": 2},
            "split": {"ratios": [0.7, 0.3, 0.0], "seed": 1},
            "model": {"name": tiny_bert, "max_length": 32},
            # one epoch: best/ is the last evaluation, so its weights equal final/'s
            "training": {
                "epochs": 1,
                "batch_size": 8,
                "save_steps": 1,
                "eval_batch_size": 16,
                "keep_checkpoints": keep,
            },
            "output_dir": str(out),
            "progress": False,
        },
    )
    result = train(config)
    checkpoints = sorted(p.name for p in out.glob("checkpoint-*"))
    record = json.loads((out / "train_summary.json").read_text())["output_folder"]
    # measured before the record itself was added to train_summary.json
    assert record == result.metrics["output_folder"] and 0 <= folder_bytes(out) - record["bytes"] < 4096
    if keep:
        assert checkpoints and record["checkpoints_removed"] == []
    else:
        assert checkpoints == [] and record["checkpoints_removed"] and record["bytes"] < record["bytes_before_cleanup"]
    assert "best/model.safetensors" in record["linked_to_final"]
    assert os.path.samefile(out / "best" / "model.safetensors", out / "final" / "model.safetensors")


def test_slim_output_without_a_summary_still_reports(tmp_path):
    (tmp_path / "checkpoint-3").mkdir()
    (tmp_path / "checkpoint-3" / "optimizer.pt").write_bytes(b"x" * 10)
    record = slim_output(tmp_path, keep_checkpoints=False)
    assert record["checkpoints_removed"] == ["checkpoint-3"] and record["bytes"] == 0
