"""Every shipped config parses into its command's dataclass (no unknown keys), and the
training configs pass the loss/data checks that run before a model is loaded."""

import contextlib
from pathlib import Path

import pytest
import yaml

from rankwright.commands.evaluate import EvaluateConfig
from rankwright.config import ConfigError, from_dict
from rankwright.training.config import TrainConfig

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_parses(path):
    data = yaml.safe_load(path.read_text())
    parsed = []
    for cls in (TrainConfig, EvaluateConfig):
        with contextlib.suppress(ConfigError):
            parsed.append(from_dict(cls, data))
    assert parsed, f"{path.name} fits no command's config"


def test_there_is_a_config_per_seed_scenario():
    names = {p.name for p in CONFIGS}
    assert {
        "homedepot_binary.yaml",
        "homedepot_mse.yaml",
        "seed002_pairwise_margin.yaml",
        "swift_listwise.yaml",
    } <= names
