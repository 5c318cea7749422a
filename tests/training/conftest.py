"""The training tests' tiny configuration: a tiny model on pointwise pairs, BCE,
70/30 train/validation split, two quick epochs."""

from __future__ import annotations

import pytest

from rankwright.config import from_dict
from rankwright.training.config import TrainConfig

TRAINING = {
    "epochs": 2,
    "batch_size": 8,
    "learning_rate": 1e-3,
    "logging_steps": 5,
    "save_steps": 1000,
    "eval_batch_size": 16,
}


def tiny_config(tmp_path, data, model, training=None, **overrides) -> TrainConfig:
    """The tiny configuration over ``data`` with ``model``: ``training`` updates the
    training section; other keys replace a whole section (``loss={...}``) or, dotted
    (``"lora.r": 4``), one value of it."""
    base = {
        "data": {"path": str(data)},
        "labels": {"scheme": "graded", "relevant_gain": 2},
        "split": {"ratios": [0.7, 0.3, 0.0], "seed": 1},
        "model": {"name": model, "max_length": 32},
        "loss": {"name": "bce"},
        "training": {**TRAINING, **(training or {})},
        "output_dir": str(tmp_path / "out"),
        "progress": False,
    }
    for key, value in sorted(overrides.items(), key=lambda kv: "." in kv[0]):  # sections, then dotted values
        section, _, leaf = key.partition(".")
        if leaf:
            base.setdefault(section, {})[leaf] = value
        else:
            base[section] = value
    return from_dict(TrainConfig, base)


@pytest.fixture(scope="session")
def tiny_train_config():
    """:func:`tiny_config`, for tests to call with their data and model."""
    return tiny_config
