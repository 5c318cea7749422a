"""``train --training.budget``: the probe changes nothing, the plan cuts the steps, a
budget too small is refused before training."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from rankwright.training.budget import BudgetError, Probe
from rankwright.training.config import TrainConfig
from rankwright.training.run import train


def _config(make, tmp_path, data, model, out="out", **training) -> TrainConfig:
    return make(tmp_path, data, model, training, output_dir=str(tmp_path / out))


def _weights(folder):
    return AutoModelForSequenceClassification.from_pretrained(folder).state_dict()


def test_a_roomy_budget_trains_exactly_as_no_budget(tmp_path, tiny_bert, write_pointwise, tiny_train_config):
    data = write_pointwise(tmp_path / "pairs.jsonl")
    plain = train(_config(tiny_train_config, tmp_path, data, tiny_bert, out="plain"))
    budgeted = train(_config(tiny_train_config, tmp_path, data, tiny_bert, out="budget", budget="10m"))
    budget = budgeted.metrics["budget"]
    assert not budget["shortened"] and budget["stopped_at_step"] is None
    assert budget["steps"] == budgeted.metrics["global_steps"] == plain.metrics["global_steps"]
    assert budget["step_s"] > 0 and budget["validations"] == 2
    assert budgeted.metrics["pairs_seen"] == plain.metrics["pairs_seen"]
    a, b = _weights(plain.final_dir), _weights(budgeted.final_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_tight_budget_cuts_the_steps_to_the_plan(
    tmp_path, tiny_bert, write_pointwise, monkeypatch, caplog, tiny_train_config
):
    caplog.set_level(logging.INFO, logger="rankwright")
    data = write_pointwise(tmp_path / "pairs.jsonl")
    full = train(_config(tiny_train_config, tmp_path, data, tiny_bert, out="full")).metrics["global_steps"]
    # a measured 1 s a step: a 30 s budget leaves room for fewer steps than two epochs
    monkeypatch.setattr(
        "rankwright.training.probe.probe_trainer", lambda *a, **k: Probe(step_s=1.0, validation_s=0.5, probe_s=0.0)
    )
    result = train(_config(tiny_train_config, tmp_path, data, tiny_bert, budget="30s", budget_min_epochs=0.0))
    budget = result.metrics["budget"]
    assert budget["shortened"] and 1 <= budget["steps"] < full
    assert result.metrics["global_steps"] == budget["steps"]
    assert budget["estimate_s"] <= 30
    assert "budget 30.0s" in caplog.text and "epochs (of 2 asked" in caplog.text


def test_a_budget_too_small_for_one_pass_is_refused_before_training(
    tmp_path, tiny_bert, write_pointwise, monkeypatch, tiny_train_config
):
    data = write_pointwise(tmp_path / "pairs.jsonl")
    monkeypatch.setattr(
        "rankwright.training.probe.probe_trainer", lambda *a, **k: Probe(step_s=10.0, validation_s=1.0, probe_s=0.0)
    )
    with pytest.raises(BudgetError, match=r"training.budget 30.0s is too small for one pass.*the minimum is about"):
        train(_config(tiny_train_config, tmp_path, data, tiny_bert, budget="30s"))
    assert not (Path(tmp_path) / "out" / "final").exists()


def test_a_budget_that_does_not_parse_is_refused_before_reading(tmp_path, tiny_bert, tiny_train_config):
    with pytest.raises(BudgetError, match=r"training\.budget .15 min. does not parse: use seconds"):
        train(_config(tiny_train_config, tmp_path, tmp_path / "missing.jsonl", tiny_bert, budget="15 min"))
