"""The reranker choice: of the supervised runs from the warm-up and from the base
encoder and the warm-up model itself, the one with the highest validation nDCG@10 is
kept; ties keep the earlier one (from the warm-up, from the base, the warm-up alone)."""

from __future__ import annotations

import pytest

from rankwright.recipe.phases import RerankerChoice, best_validation
from rankwright.training.run import TrainResult


def run(name: str, ndcg: float | None, best: bool = True) -> TrainResult:
    metrics = {"best_validation": None if ndcg is None else {"eval_ndcg@10": ndcg}}
    return TrainResult(f"/runs/{name}", f"/runs/{name}/best" if best else None, f"/runs/{name}/final", metrics)


@pytest.mark.parametrize(
    ("scores", "kept", "words"),
    [
        (
            {"with_warmup": 0.41, "without_warmup": 0.30},
            "with_warmup",
            "kept the model trained with the teacher warm-up (validation ndcg@10 0.4100; against 0.3000 without "
            "warm-up)",
        ),
        (
            {"with_warmup": 0.9319, "without_warmup": 0.9321},
            "without_warmup",
            "kept the model trained without the teacher warm-up (validation ndcg@10 0.9321; against 0.9319 with "
            "warm-up)",
        ),
        ({"with_warmup": 0.5, "without_warmup": 0.5}, "with_warmup", "kept the model trained with the teacher"),
        # the warm-up model itself wins when the supervised phase only made it worse
        (
            {"with_warmup": 0.306, "warmup_only": 0.349},
            "warmup_only",
            "kept the model of the teacher warm-up alone (no supervised phase) (validation ndcg@10 0.3490; "
            "against 0.3060 with warm-up)",
        ),
        # ties: supervised from the warm-up, then from the base, then the warm-up alone
        ({"warmup_only": 0.5, "without_warmup": 0.5, "with_warmup": 0.4}, "without_warmup", "without the teacher"),
    ],
)
def test_the_best_validation_score_is_kept_and_said(scores, kept, words):
    choice = RerankerChoice({name: run(name, value) for name, value in scores.items()})
    assert choice.kept.output_dir == f"/runs/{kept}"
    assert sorted(choice.others) == sorted(set(scores) - {kept})
    assert all(r.output_dir == f"/runs/{n}" for n, r in choice.others.items())
    assert words in choice.message()
    assert choice.to_dict() == {"validation": scores, "kept": kept}


def test_unknown_runs_are_refused():
    with pytest.raises(ValueError, match="runs must be some of"):
        RerankerChoice({"cold": run("cold", 0.5)})
    with pytest.raises(ValueError, match="runs must be some of"):
        RerankerChoice({})


def test_model_dir_is_the_best_checkpoint_else_the_final_model():
    assert run("a", 0.5).model_dir == "/runs/a/best"
    assert run("a", 0.5, best=False).model_dir == "/runs/a/final"


def test_a_run_without_validation_cannot_be_chosen():
    with pytest.raises(ValueError, match="/runs/a recorded no validation eval_ndcg@10"):
        best_validation(run("a", None))


def test_every_phase_validates_as_the_recipes_training_section_says(tmp_path):
    """``training.validation_queries`` and ``validation_depth`` reach each phase's ``train``
    config, and the validation file they cut is in first-stage order."""
    import pandas as pd

    from rankwright.data.records import QUERY_ID
    from rankwright.recipe.config import RecipeConfig
    from rankwright.recipe.phases import PhaseInputs, phase_config
    from rankwright.recipe.training_data import validation_pairs

    recipe = RecipeConfig()
    recipe.training.validation_queries, recipe.training.validation_depth = 50, 5
    inputs = PhaseInputs(
        tmp_path / "t.parquet", tmp_path / "v.parquet", 1, 3, recipe.model, recipe.sampling, recipe.training,
        recipe.lora, recipe.metrics, False,
    )  # fmt: skip
    for learning_rate in (None, 1e-4):  # the supervised phase, and a phase that overrides its settings
        extra = {} if learning_rate is None else {"learning_rate": learning_rate}
        phase = phase_config(inputs, model_name="m", loss=recipe.loss, output_dir=tmp_path, **extra)
        assert (phase.training.validation_queries, phase.training.validation_depth) == (50, 5)
    candidates = pd.DataFrame(
        {
            QUERY_ID: ["a", "a", "a"],
            "query": "q",
            "doc_id": ["d1", "d2", "d3"],
            "doc": "x",
            "gain": [0, 1, 0],
            "dense_score": [0.3, 0.2, 0.1],
            "first_stage_score": [1.0, 3.0, 2.0],
        }
    )
    assert list(validation_pairs(candidates)["doc_id"]) == ["d2", "d3", "d1"]


def test_the_bi_encoder_phase_trains_all_weights_whatever_the_recipes_lora_says(tmp_path, monkeypatch):
    """``lora.*``, ``sampling.*`` and ``model.dtype`` in a recipe are the cross-encoder's;
    the dense model's phase gets none of them (a bi-encoder refuses what it does not use)."""
    from rankwright.recipe import phases
    from rankwright.recipe.config import RecipeConfig
    from rankwright.recipe.phases import PhaseInputs, fine_tune_bi_encoder
    from rankwright.training.bi_encoder import ignored_options

    recipe = RecipeConfig()
    recipe.lora.enabled, recipe.lora.quantize = True, "4bit"
    recipe.sampling.max_pairs, recipe.sampling.packing, recipe.model.dtype = 500, False, "bfloat16"
    inputs = PhaseInputs(
        tmp_path / "t.parquet", tmp_path / "v.parquet", 1, 3, recipe.model, recipe.sampling, recipe.training,
        recipe.lora, recipe.metrics, False,
    )  # fmt: skip
    seen = {}
    monkeypatch.setattr(phases, "run_phase", lambda config, _train: seen.setdefault("config", config))
    fine_tune_bi_encoder(inputs, recipe.bi_encoder, "dense-model", tmp_path / "bi")
    config = seen["config"]
    assert config.model.type == "bi-encoder" and not config.lora.enabled and config.lora.quantize is None
    assert ignored_options(config) == [] and config.sampling.negatives_per_group == recipe.bi_encoder.negatives
    assert config.model.max_length == recipe.bi_encoder.max_length and config.model.name == "dense-model"
    assert inputs.lora.enabled  # the cross-encoder phases keep the recipe's LoRA
