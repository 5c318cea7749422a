"""A rerun of the same recipe continues: finished phases are reused, an interrupted one
resumes from its checkpoint, another configuration or data is refused by name."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from rankwright.data.readers import DataConfig
from rankwright.recipe.resume import PHASE, STATE, RecipeMismatchError, check_or_record, run_phase
from rankwright.training.config import ModelConfig, TrainConfig, TrainingConfig
from rankwright.training.result import TrainResult


@dataclass
class Cfg:
    data: DataConfig = field(default_factory=DataConfig)
    seed: int = 42
    output_dir: str = "runs/x"
    progress: bool = True


def test_the_same_recipe_continues_and_another_is_refused_by_name(tmp_path):
    data = tmp_path / "pairs.csv"
    data.write_text("query,doc,label\nq,d,1\n")
    out = tmp_path / "out"
    config = Cfg(DataConfig(path=str(data)), output_dir=str(out))
    assert check_or_record(config, out) is False and (out / STATE).is_file()
    # output folder and progress bars do not matter
    assert check_or_record(replace(config, progress=False), out) is True
    with pytest.raises(RecipeMismatchError, match=r"seed: 42 then, 7 now.*--overwrite true"):
        check_or_record(replace(config, seed=7), out)
    data.write_text("query,doc,label\nq,d,1\nq,e,0\n")  # the data changed
    with pytest.raises(RecipeMismatchError, match=r"file path"):
        check_or_record(config, out)
    (out / "phase_a").mkdir()
    (out / "phase_a" / PHASE).write_text("{}")
    assert check_or_record(replace(config, seed=7), out, overwrite=True) is False  # starts over
    assert not (out / "phase_a" / PHASE).exists()
    assert check_or_record(replace(config, seed=7), out) is True


def _phase(tmp_path: Path, lr: float = 1e-3) -> TrainConfig:
    train_file = tmp_path / "train.parquet"
    if not train_file.exists():
        train_file.write_bytes(b"pairs")
    return TrainConfig(
        data=DataConfig(path=str(train_file)),
        model=ModelConfig(name="m"),
        training=TrainingConfig(learning_rate=lr),
        output_dir=str(tmp_path / "phase"),
    )


class FakeTrain:
    def __init__(self):
        self.calls: list[TrainConfig] = []

    def __call__(self, config: TrainConfig) -> TrainResult:
        self.calls.append(config)
        out = Path(config.output_dir)
        (out / "final").mkdir(parents=True, exist_ok=True)
        return TrainResult(str(out), None, str(out / "final"), {"best_validation": {"eval_ndcg@10": 0.5}})


def test_a_finished_phase_is_reused_and_a_changed_one_trained_again(tmp_path):
    train = FakeTrain()
    first = run_phase(_phase(tmp_path), train)
    again = run_phase(_phase(tmp_path), train)
    assert len(train.calls) == 1 and again == first
    assert json.loads((tmp_path / "phase" / PHASE).read_text())["metrics"] == first.metrics
    run_phase(_phase(tmp_path, lr=5e-5), train)  # other settings: trained again, from an emptied folder
    assert len(train.calls) == 2 and not train.calls[1].training.resume
    (tmp_path / "train.parquet").write_bytes(b"other pairs")  # other input bytes: trained again
    run_phase(_phase(tmp_path, lr=5e-5), train)
    assert len(train.calls) == 3


def test_an_interrupted_phase_resumes_from_its_checkpoint(tmp_path):
    config = _phase(tmp_path)
    checkpoint = Path(config.output_dir) / "checkpoint-20"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text("{}")
    train = FakeTrain()
    run_phase(config, train)
    assert train.calls[0].training.resume is True


def test_a_phase_killed_before_its_first_checkpoint_starts_in_an_empty_folder(tmp_path):
    config = _phase(tmp_path)
    Path(config.output_dir).mkdir()
    (Path(config.output_dir) / "stale.txt").write_text("half-written")
    train = FakeTrain()
    run_phase(config, train)
    assert train.calls[0].training.resume is False and not (Path(config.output_dir) / "stale.txt").exists()
