"""``recipe --budget`` end to end on tiny data: the plan is written and followed (a
phase it skips is not trained, each phase gets its share as ``training.budget``), the
run ends with its time against the budget, and a budget too small for one supervised
pass stops before any training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankwright.config import from_dict
from rankwright.recipe import RecipeConfig, main
from rankwright.recipe.budget import Units
from rankwright.training.budget import BudgetError

WORDS = ["drill", "sofa", "lamp", "kettle", "hose", "table", "chair", "fan", "rug", "bulb"]


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory) -> Path:
    rows = []
    for q in range(30):
        w = WORDS[q % len(WORDS)]
        rows.append({"query": f"cordless {w} {q}", "doc": f"a cordless {w} for the garden", "label": 2})
        rows.append({"query": f"cordless {w} {q}", "doc": f"{w} spare parts", "label": 1})
        rows += [{"query": f"cordless {w} {q}", "doc": f"kitchen recipes {q} {i}", "label": 0} for i in range(3)]
    path = tmp_path_factory.mktemp("budget") / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _config(pairs_file: Path, model: str, out: Path, budget: str | None) -> RecipeConfig:
    return from_dict(
        RecipeConfig,
        {
            "data": {"path": str(pairs_file)},
            "labels": {"scheme": "graded", "relevant_gain": 1},
            "model": {"name": model, "max_length": 32},
            "training": {"epochs": 1, "batch_size": 8, "eval_batch_size": 64, "logging_steps": 5},
            "warmup": {"epochs": 1},
            "bi_encoder": {"enabled": False},
            "validation_depth": 5,
            "fusion": {"grid": 4},
            "budget": budget,
            "output_dir": str(out),
            "progress": False,
        },
    )


def test_a_roomy_budget_runs_every_phase_within_it(tmp_path, pairs_file, tiny_bert):
    result = main(_config(pairs_file, tiny_bert, tmp_path / "out", "20m"))
    plan = result.metrics["plan"]
    assert plan["budget_s"] == 1200 and plan["skipped"] == {}
    assert set(plan["estimates_s"]) == {"warmup", "supervised", "supervised_without_warmup"}
    assert plan["pair_s"] > 0 and plan["text_s"] > 0
    assert result.metrics["total_s"] < 1200
    assert result.messages[-1].startswith("recipe: finished in ") and "of the budget of 20m00s" in result.messages[-1]
    for phase in ("warmup", "reranker", "reranker_without_warmup"):
        summary = json.loads((tmp_path / "out" / phase / "train_summary.json").read_text())
        assert summary["budget"]["budget_s"] > 0  # each phase had its share


def test_without_a_budget_the_estimate_is_reported(tmp_path, pairs_file, tiny_bert):
    result = main(_config(pairs_file, tiny_bert, tmp_path / "out", None))
    assert result.metrics["plan"]["budget_s"] is None and result.metrics["plan"]["estimate_s"] > 0
    assert "(estimated " in result.messages[-1]
    summary = json.loads((tmp_path / "out" / "reranker" / "train_summary.json").read_text())
    assert "budget" not in summary


def test_a_tight_budget_skips_warmup_choose(tmp_path, pairs_file, tiny_bert, monkeypatch):
    # as if a pair took 0.2 s to score: each phase is estimated at about 96 s, scoring at 12 s and 6 s
    # more for each cross-encoder not kept, so of 4m30s (less the margin and preparing) two phases fit
    monkeypatch.setattr("rankwright.recipe.run.measure_units", lambda *a, **k: Units(0.2, 0.001, 0.0))
    result = main(_config(pairs_file, tiny_bert, tmp_path / "out", "4m30s"))
    assert list(result.metrics["plan"]["skipped"]) == ["supervised_without_warmup"]
    assert not (tmp_path / "out" / "reranker_without_warmup").exists()
    assert (tmp_path / "out" / "reranker" / "final").is_dir()


def test_a_budget_too_small_stops_before_training(tmp_path, pairs_file, tiny_bert, monkeypatch):
    # as if a pair took 0.2 s to score: one supervised epoch is estimated at about 96 s
    monkeypatch.setattr("rankwright.recipe.run.measure_units", lambda *a, **k: Units(0.2, 0.001, 0.0))
    with pytest.raises(BudgetError, match=r"budget 30.0s is too small for one pass .* the minimum is about 1m"):
        main(_config(pairs_file, tiny_bert, tmp_path / "out", "30s"))
    assert not (tmp_path / "out" / "warmup").exists() and not (tmp_path / "out" / "reranker").exists()
