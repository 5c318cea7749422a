"""Time budgets: parsing, the plan from a probe, the callback that stops training."""

from __future__ import annotations

import time

import pytest
from transformers import TrainerCallback  # noqa: F401  (make_time_stop imports it: not in the timed part)

from rankwright.training.budget import (
    BUDGET_FORMS,
    BudgetError,
    Probe,
    format_seconds,
    make_time_stop,
    parse_budget,
    plan_training,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("900", 900), ("90s", 90), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("2.5h", 9000), ("1m30s", 90), (45, 45)],
)
def test_budget_forms(text, seconds):
    assert parse_budget(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["15 min", "-3m", "", "m", "0", "0m", "3x", "1h-5m"])
def test_bad_budgets_name_the_setting_and_the_forms(text):
    with pytest.raises(BudgetError) as err:
        parse_budget(text, "training.budget")
    assert "training.budget" in str(err.value) and BUDGET_FORMS in str(err.value)


def test_format_seconds():
    assert format_seconds(9.44) == "9.4s"
    assert format_seconds(75) == "1m15s"
    assert format_seconds(3700) == "1h01m40s"


def plan(budget_s, elapsed_s=10.0, step_s=1.0, validation_s=5.0, steps_per_epoch=100, epochs=3.0, **kw):
    probe = Probe(step_s=step_s, validation_s=validation_s, probe_s=1.0)
    kw.setdefault("max_steps", -1)
    kw.setdefault("eval_strategy", "epoch")
    kw.setdefault("eval_steps", None)
    return plan_training(budget_s, elapsed_s, probe, steps_per_epoch, epochs, **kw)


def test_a_roomy_budget_keeps_what_was_asked():
    p = plan(1000)
    assert (p.steps, p.validations, p.shortened) == (300, 3, False)
    assert p.estimate_s == pytest.approx(10 + 300 + 15 + 5 + 50)
    assert "3.00 epochs = 300 steps, 3 validations" in p.describe()


def test_a_tight_budget_cuts_the_steps_to_what_fits():
    p = plan(250)  # left: 250 - 10 - (5 + 12.5) = 222.5 s
    assert p.shortened and p.steps == 212  # 212 steps + 2 validations = 222 s; 213 + 2 = 223 s
    assert p.estimate_s <= 250
    assert "of 3 asked" in p.describe()


def test_validations_every_n_steps_count():
    p = plan(1000, eval_strategy="steps", eval_steps=50)
    assert p.validations == 6


def test_too_small_for_one_pass_names_the_minimum():
    with pytest.raises(BudgetError, match=r"too small for one pass.*the minimum is about"):
        plan(60)
    p = plan(60, min_epochs=0.0)  # train whatever fits
    assert 1 <= p.steps < 100


def test_max_steps_below_an_epoch_is_what_is_needed():
    p = plan(100, max_steps=20)
    assert p.steps == 20 and not p.shortened


def test_the_time_stop_stops_before_the_deadline():
    class State:
        global_step = 0
        max_steps = 100

    class Control:
        should_training_stop = False

    deadline = time.perf_counter() + 0.5
    stop = make_time_stop(deadline, tail_s=0.1)
    state, control = State(), Control()
    stop.on_train_begin(None, state, control)
    while not control.should_training_stop and state.global_step < 100:
        time.sleep(0.02)
        state.global_step += 1
        stop.on_step_end(None, state, control)
    assert control.should_training_stop and stop.stopped_step == state.global_step
    assert 5 < state.global_step < 25  # about (0.5 - 0.1) / 0.02 steps
    assert time.perf_counter() < deadline
