"""training.early_stopping_patience: with learning rate 0 the validation metric never
improves after the first evaluation, so training stops after patience + 1 evaluations;
a patience larger than the evaluations trains to the end; bad setups fail before any
model is loaded."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rankwright.models.metadata import ModelMetadata
from rankwright.training.run import TrainingSetupError, train

EVAL_STEPS = 2


@pytest.fixture(scope="module")
def data(tmp_path_factory, write_pointwise):
    return write_pointwise(tmp_path_factory.mktemp("early") / "pairs.jsonl", n_queries=20)


#: constant weights (learning rate 0): validation every EVAL_STEPS steps never improves
EARLY = {
    "epochs": 50,
    "learning_rate": 0.0,
    "warmup_ratio": 0.0,
    "eval_strategy": "steps",
    "eval_steps": EVAL_STEPS,
    "logging_steps": 1000,
    "eval_batch_size": 64,
}


def test_stops_after_patience_plus_one_evaluations(tmp_path, data, tiny_bert, caplog, tiny_train_config):
    patience = 2
    with caplog.at_level(logging.INFO, logger="rankwright"):
        result = train(
            tiny_train_config(tmp_path, data, tiny_bert, EARLY | {"early_stopping_patience": patience, "max_steps": 40})
        )
    stop_step = (patience + 1) * EVAL_STEPS
    m = result.metrics
    assert m["global_steps"] == stop_step  # without stopping: 40 steps
    assert m["stopped_early"] is True
    assert [e["step"] for e in m["validation_history"]] == [EVAL_STEPS * (i + 1) for i in range(patience + 1)]
    assert m["best_step"] == EVAL_STEPS
    early = m["early_stopping"]
    assert early["stopped_early"] is True
    assert early["stopped_at_step"] == stop_step
    assert 0 < early["stopped_at_epoch"] < 50
    assert early["best_step"] == EVAL_STEPS
    assert early["patience"] == patience and early["threshold"] == 0.0
    assert early["metric"] == "eval_ndcg@10"
    assert early["evaluations_without_improvement"] == patience
    first = m["validation_history"][0]["eval_ndcg@10"]
    assert early["best_value"] == pytest.approx(first)

    out = Path(result.output_dir)
    saved = json.loads((out / "train_summary.json").read_text(encoding="utf-8"))
    assert saved["stopped_early"] is True
    assert saved["early_stopping"]["stopped_at_step"] == stop_step
    assert saved["best_step"] == EVAL_STEPS
    # best/ was saved at the first evaluation, final/ is the model at the stop
    assert ModelMetadata.load(out / "best").training["best"]["step"] == EVAL_STEPS
    assert ModelMetadata.load(out / "final").training["result"]["global_steps"] == stop_step
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stopped early")]
    assert lines == [
        f"stopped early at step {stop_step} (epoch {early['stopped_at_epoch']:.2f}): ndcg@10 has not improved "
        f"on {first:.4f} for {patience} evaluations"
    ]


def test_patience_larger_than_the_evaluations_trains_to_the_end(tmp_path, data, tiny_bert, tiny_train_config):
    max_steps = 4 * EVAL_STEPS
    config = tiny_train_config(
        tmp_path, data, tiny_bert, EARLY | {"early_stopping_patience": 10, "max_steps": max_steps}
    )
    result = train(config)
    m = result.metrics
    assert m["global_steps"] == max_steps
    assert len(m["validation_history"]) == 4
    assert m["stopped_early"] is False
    early = m["early_stopping"]
    assert early["stopped_early"] is False and early["stopped_at_step"] is None
    assert early["evaluations_without_improvement"] == 3
    assert early["best_step"] == EVAL_STEPS


def test_without_patience_the_summary_says_no_early_stopping(tmp_path, data, tiny_bert, tiny_train_config):
    result = train(tiny_train_config(tmp_path, data, tiny_bert, EARLY | {"max_steps": EVAL_STEPS}))
    assert result.metrics["global_steps"] == EVAL_STEPS
    assert result.metrics["stopped_early"] is False
    assert result.metrics["early_stopping"] is None


@pytest.mark.parametrize(
    ("training", "overrides", "message"),
    [
        ({"early_stopping_patience": 0}, {}, "must be at least 1"),
        ({"early_stopping_patience": -3}, {}, "must be at least 1"),
        ({"early_stopping_patience": 2, "early_stopping_threshold": -0.1}, {}, "cannot be negative"),
        ({"early_stopping_patience": 2, "eval_strategy": "no"}, {}, "eval_strategy is 'no'"),
        ({"early_stopping_patience": 2}, {"split": {"ratios": [1.0, 0.0, 0.0], "seed": 1}}, "no query"),
    ],
)
def test_bad_setups_fail_before_training(tmp_path, data, tiny_bert, training, overrides, message, tiny_train_config):
    config = tiny_train_config(tmp_path, data, tiny_bert, EARLY | (training or {}), **overrides)
    with pytest.raises(TrainingSetupError, match=message):
        train(config)
    assert not (tmp_path / "out").exists()
