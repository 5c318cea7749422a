"""``recipe --budget``: the plan skips what does not fit, in order, shares the time by
cost, and refuses a budget too small for one supervised pass, naming the minimum."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from rankwright.recipe import RecipeConfig
from rankwright.recipe.budget import Units, estimate_phases, make_plan
from rankwright.training.budget import BudgetError

UNITS = Units(pair_s=0.01, text_s=0.005, probe_s=1.0)
#: full costs in seconds, and of one epoch: the bi-encoder's 3 epochs, the warm-up's 1, the supervised runs' 3
ESTIMATES = {"bi_encoder": 200.0, "warmup": 50.0, "supervised": 300.0, "supervised_without_warmup": 300.0}
ONE_PASS = {"bi_encoder": 200 / 3, "warmup": 50.0, "supervised": 100.0, "supervised_without_warmup": 100.0}


def plan_for(budget, estimates=ESTIMATES, scoring=None):
    scoring = scoring or {"base": 30.0}
    return make_plan(RecipeConfig(budget=budget), dict(estimates), ONE_PASS, scoring, UNITS, time.perf_counter())


def test_without_a_budget_everything_runs_and_the_total_is_estimated():
    plan = plan_for(None)
    assert plan.skipped == {} and plan.phase_budget("supervised") is None
    assert plan.estimate_s == pytest.approx(850 + 30, abs=1)
    assert "about 14m4" in plan.describe()


def test_a_roomy_budget_skips_nothing():
    plan = plan_for("30m")
    assert plan.skipped == {}
    assert "each phase's epochs are cut" not in plan.describe()


def test_warmup_choose_goes_first():
    plan = plan_for("10m")  # 600 s less the margin (30 s) and scoring (30 s): 540 s for 850 s of phases
    assert list(plan.skipped) == ["supervised_without_warmup"]
    assert "skipped: supervised without warm-up (warmup.choose)" in plan.describe()
    # each phase left gets one epoch (66.7 + 50 + 100 s), the bi-encoder a share of the other 323.3 s
    # by what its further epochs cost (133.3 s, against the supervised phase's 200 s and the warm-up's 0)
    first = plan.phase_budget("bi_encoder")
    assert first == pytest.approx(200 / 3 + (540 - 650 / 3) * (400 / 3) / (400 / 3 + 200), rel=0.01)


def test_then_warmup_then_bi_encoder_while_one_epoch_of_each_does_not_fit():
    # 230 s: 188.5 s left; one epoch of the bi-encoder, the warm-up and the supervised phase is 216.7 s
    assert list(plan_for("3m50s").skipped) == ["supervised_without_warmup", "warmup"]
    # 180 s: 141 s left; without the warm-up still 166.7 s: the supervised phase alone has it all
    plan = plan_for("3m")
    assert list(plan.skipped) == ["supervised_without_warmup", "warmup", "bi_encoder"]
    assert plan.runs("supervised") and plan.phase_budget("supervised") == pytest.approx(141, abs=1)


def test_too_small_for_one_supervised_pass_names_the_minimum():
    with pytest.raises(BudgetError, match=r"budget 1m00s is too small for one pass .* the minimum is about 2m1\ds"):
        plan_for("1m")


def test_estimates_follow_the_settings():
    pairs = pd.DataFrame({"query_id": ["a", "a", "b", "b"], "label": [1, 0, 1, 0]})
    ranked = {
        "val": pd.DataFrame({"query_id": ["v"] * 50, "query": ["qv"] * 50, "doc": [f"d{i}" for i in range(50)]}),
        "test": pd.DataFrame({"query_id": ["t"] * 40, "query": ["qt"] * 40, "doc": [f"d{i}" for i in range(40)]}),
    }
    config = RecipeConfig()
    estimates, passes, scoring = estimate_phases(config, pairs, ranked, 1, UNITS, True, 0)
    one_pass = passes["supervised"]
    assert list(estimates) == ["bi_encoder", "warmup", "supervised", "supervised_without_warmup"]
    # supervised: 4 pairs x 5 passes + 30 validation pairs (validation_depth 30), per epoch, 3 epochs
    assert one_pass == pytest.approx(4 * 5 * 0.01 + 30 * 0.01)
    assert estimates["supervised"] == pytest.approx(3 * one_pass)
    assert passes["warmup"] == estimates["warmup"] and passes["bi_encoder"] == pytest.approx(
        estimates["bi_encoder"] / 3
    )
    # the bi-encoder: a row per relevant pair (label = gain >= relevant_gain) of (query, positive, negative),
    # and each epoch's validation encodes the distinct texts of the top 30 once (1 query, 30 documents)
    assert estimates["bi_encoder"] == pytest.approx(3 * (2 * 3 * 8 * 0.005 + 31 * 0.005))
    none_relevant, _, _ = estimate_phases(config, pairs, ranked, 2, UNITS, True, 0)
    assert none_relevant["bi_encoder"] == pytest.approx(3 * 31 * 0.005)
    no_choose = RecipeConfig()
    no_choose.warmup.choose = False
    no_choose.bi_encoder.enabled = False
    estimates, _, _ = estimate_phases(no_choose, pairs, ranked, 1, UNITS, True, 0)
    assert list(estimates) == ["warmup", "supervised"]
    # the kept reranker on val and test (90 pairs); a test row (40 pairs) for each cross-encoder not kept;
    # the bi-encoder's distinct texts of val and test (2 queries, 50 documents)
    assert scoring == pytest.approx(
        {"base": 90 * 0.01, "warmup": 0.4, "supervised_without_warmup": 0.4, "bi_encoder": 52 * 0.005}
    )
    # with a corpus of 200 documents to retrieve from, the candidates are among them: 2 queries + 200 documents
    assert estimate_phases(config, pairs, ranked, 1, UNITS, True, 200)[2]["bi_encoder"] == pytest.approx(202 * 0.005)


def test_the_ablation_rows_go_first():
    scoring = {"base": 30.0, "warmup": 20.0, "supervised_without_warmup": 20.0, "bi_encoder": 10.0}
    assert plan_for("30m", scoring=scoring).rows_not_kept
    plan = plan_for("16m", scoring=scoring)  # 850 s of phases + 80 s of scoring: not in 912 s; + 40 s: in
    assert not plan.rows_not_kept and plan.skipped == {} and plan.scoring_s == 40.0
    assert "skipped: the test rows of the cross-encoders not kept" in plan.describe()


def test_a_skipped_phase_takes_its_scoring_with_it():
    plan = plan_for(None, scoring={"base": 30.0, "supervised_without_warmup": 20.0, "bi_encoder": 10.0})
    assert plan.scoring_s == 60.0
    plan.skipped["supervised_without_warmup"] = "no time"
    assert plan.scoring_s == 40.0


def test_a_budget_that_does_not_parse_is_a_config_error():
    with pytest.raises(BudgetError, match="budget '15 min' does not parse"):
        RecipeConfig(budget="15 min").check()
