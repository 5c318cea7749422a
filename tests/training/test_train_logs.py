"""A training run's log says each thing once: the new score head in one line (not
transformers' load report), and queries cut to fit max_length once, with the run's total
(not once per batch)."""

from __future__ import annotations

import logging

from rankwright.config import from_dict
from rankwright.training.config import TrainConfig
from rankwright.training.run import train


def test_a_training_run_warns_once_about_cut_queries_and_says_the_new_head_once(
    tmp_path, tiny_bert, write_pointwise, caplog
):
    config = {
        "data": {"path": str(write_pointwise(tmp_path / "pairs.jsonl", n_queries=4))},
        "labels": {"scheme": "graded", "relevant_gain": 2},
        "split": {"ratios": [1.0, 0.0, 0.0], "seed": 1},
        "model": {"name": tiny_bert, "max_length": 6},  # room for 3 tokens: every query fills it
        "loss": {"name": "bce"},
        "training": {"epochs": 1, "batch_size": 4, "logging_steps": 50, "save_steps": 1000, "eval_batch_size": 8},
        "output_dir": str(tmp_path / "out"),
        "progress": False,
    }
    with caplog.at_level(logging.INFO, logger="rankwright"):
        result = train(from_dict(TrainConfig, config))
    messages = [r.getMessage() for r in caplog.records]
    cut = [m for m in messages if "leave no room for a document" in m]
    assert len(cut) == 1 and cut[0].startswith("in all batches of this run, ")
    pairs = result.metrics["pairs_seen"]
    assert pairs > 4 and cut[0].startswith(f"in all batches of this run, {pairs} queries")  # every pair's, 1 line
    assert [m for m in messages if "score head" in m] == [
        f"{tiny_bert}: the score head (classifier.bias, classifier.weight) is newly initialised with 1 output(s); "
        "training learns it"
    ]
