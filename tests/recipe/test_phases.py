"""The warm-up choice: of the supervised runs from the warm-up and from the base
encoder, the one with the higher validation nDCG@10 is kept; ties keep the warm-up."""

from __future__ import annotations

import pytest

from rankwright.recipe.phases import WarmupChoice, best_validation
from rankwright.training.run import TrainResult


def run(name: str, ndcg: float | None, best: bool = True) -> TrainResult:
    metrics = {"best_validation": None if ndcg is None else {"eval_ndcg@10": ndcg}}
    return TrainResult(f"/runs/{name}", f"/runs/{name}/best" if best else None, f"/runs/{name}/final", metrics)


@pytest.mark.parametrize(
    ("warm", "cold", "kept", "words"),
    [
        (
            0.41,
            0.30,
            "warm",
            "kept the reranker trained with the teacher warm-up (validation ndcg@10 0.4100, against 0.3000 without it)",
        ),
        (
            0.9319,
            0.9321,
            "cold",
            "kept the reranker trained without the teacher warm-up (validation ndcg@10 0.9321, against 0.9319 with it)",
        ),
        (0.5, 0.5, "warm", "kept the reranker trained with the teacher warm-up"),
    ],
)
def test_the_better_validation_score_is_kept_and_said(warm, cold, kept, words):
    choice = WarmupChoice(run("warm", warm), run("cold", cold))
    assert choice.kept.output_dir == f"/runs/{kept}"
    assert choice.other.output_dir == f"/runs/{'cold' if kept == 'warm' else 'warm'}"
    assert choice.kept_warmup == (kept == "warm")
    assert words in choice.message()
    assert choice.to_dict() == {
        "validation": {"with_warmup": warm, "without_warmup": cold},
        "kept": "with_warmup" if kept == "warm" else "without_warmup",
    }


def test_model_dir_is_the_best_checkpoint_else_the_final_model():
    assert run("a", 0.5).model_dir == "/runs/a/best"
    assert run("a", 0.5, best=False).model_dir == "/runs/a/final"


def test_a_run_without_validation_cannot_be_chosen():
    with pytest.raises(ValueError, match="/runs/a recorded no validation eval_ndcg@10"):
        best_validation(run("a", None))
