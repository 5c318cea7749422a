"""What training prints: progress bars and one line per evaluation, never the
Trainer's raw metric dicts on stdout."""

from __future__ import annotations

import logging

import pytest
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from rankwright.config import from_dict
from rankwright.training.config import TrainConfig
from rankwright.training.console import BarsOnly, EvaluationLine, evaluation_line, quiet_console
from rankwright.training.run import train


def test_an_evaluation_is_one_readable_line():
    metrics = {"eval_ndcg@10": 0.91954, "eval_map": 0.5, "eval_mrr": 0.75, "eval_runtime": 3.2, "epoch": 1.0}
    assert (
        evaluation_line(1.0, 37, metrics)
        == "validation at epoch 1.00 (step 37): nDCG@10 0.9195, MAP 0.5000, MRR 0.7500"
    )
    assert evaluation_line(None, 5, {"eval_runtime": 1.0}) == "validation at step 5: no ranking metric"


@pytest.mark.parametrize("progress", [False, True])
def test_training_prints_no_raw_metric_dicts(tmp_path, tiny_bert, write_pointwise, capsys, caplog, progress):
    data = write_pointwise(tmp_path / "train.jsonl", n_queries=12)
    config = from_dict(
        TrainConfig,
        {
            "data": {"path": str(data)},
            "labels": {"scheme": "graded", "relevant_gain": 2},
            "split": {"ratios": [0.7, 0.3, 0.0], "seed": 1},
            "model": {"name": tiny_bert, "max_length": 32},
            "training": {"epochs": 2, "batch_size": 8, "logging_steps": 1, "save_steps": 1000, "eval_batch_size": 16},
            "output_dir": str(tmp_path / "out"),
            "progress": progress,
        },
    )
    with caplog.at_level(logging.INFO, logger="rankwright"):
        train(config)
    out = capsys.readouterr().out
    assert "{'" not in out and "'loss'" not in out and "eval_ndcg" not in out
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("validation at epoch")]
    assert len(lines) == 2 and all("nDCG@10" in line for line in lines)


@pytest.mark.parametrize("bars", [False, True])
def test_the_trainer_keeps_its_bars_but_not_its_printer(tmp_path, tiny_cross_encoder, bars):
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    model = AutoModelForSequenceClassification.from_pretrained(tiny_cross_encoder)
    trainer = Trainer(model=model, args=TrainingArguments(str(tmp_path), disable_tqdm=not bars, report_to=[]))
    quiet_console(trainer)
    kinds = [type(c) for c in trainer.callback_handler.callbacks]
    assert PrinterCallback not in kinds and ProgressCallback not in kinds
    assert (BarsOnly in kinds) == bars and EvaluationLine in kinds
