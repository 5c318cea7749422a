"""Bad input that ``train`` refuses before training starts: bf16 on a device that cannot
compute in it (before any model is read)."""

from __future__ import annotations

import pytest
import torch

from rankwright.config import from_dict
from rankwright.models import precision
from rankwright.training.checks import check_precision_setup
from rankwright.training.config import TrainConfig
from rankwright.training.run import TrainingSetupError, train


def _config(tmp_path, data, model: dict, **training) -> TrainConfig:
    return from_dict(
        TrainConfig,
        {
            "data": {"path": str(data)},
            "labels": {"scheme": "graded", "relevant_gain": 2},
            "split": {"ratios": [0.7, 0.3, 0.0], "seed": 1},
            "model": model,
            "loss": {"name": "bce"},
            "training": {"epochs": 1, "batch_size": 8, **training},
            "output_dir": str(tmp_path / "out"),
            "progress": False,
        },
    )


@pytest.mark.parametrize("model_type", ["generative", "cross-encoder", "bi-encoder"])
def test_bf16_on_a_device_without_it_is_an_error_before_any_model_is_read(
    tmp_path, write_pointwise, monkeypatch, model_type
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(precision, "_cpu_bf16_works", lambda: False)
    data = write_pointwise(tmp_path / "pairs.jsonl")
    # The model does not exist: the error comes before anything looks for it.
    config = _config(tmp_path, data, {"name": str(tmp_path / "absent"), "type": model_type}, bf16=True)
    with pytest.raises(TrainingSetupError) as err:
        train(config)
    assert str(err.value) == (
        "training.bf16 is true, but this CPU cannot compute in bfloat16 (a bfloat16 matmul fails in torch "
        f"{torch.__version__}): set training.bf16 false to train in float32 (or fp16 true on a CUDA GPU), or "
        "train on a device with bfloat16"
    )


def test_bf16_passes_where_the_device_has_it_and_is_not_checked_when_off(monkeypatch):
    config = from_dict(TrainConfig, {"training": {"bf16": True}})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    check_precision_setup(config)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda: "Tesla T4")
    with pytest.raises(TrainingSetupError, match=r"^training\.bf16 is true, but this GPU \(Tesla T4\) does not"):
        check_precision_setup(config)
    check_precision_setup(from_dict(TrainConfig, {"training": {"bf16": False}}))
