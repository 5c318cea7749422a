"""Every shipped config parses into its command's dataclass (no unknown keys), and the
training configs pass the loss/data checks that run before a model is loaded."""

import contextlib
import dataclasses
from pathlib import Path

import pandas as pd
import pytest
import yaml

from rankwright.commands.registry import COMMANDS
from rankwright.config import ConfigError, config_values, from_dict
from rankwright.training.config import TrainConfig

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_parses(path):
    """Each file fits some command, and each command it has a section for."""
    data = yaml.safe_load(path.read_text())
    every = {name: command.config_class() for name, command in COMMANDS.items()}
    parsed = []
    for name, cls in every.items():
        with contextlib.suppress(ConfigError):
            parsed.append(from_dict(cls, config_values(data, cls, name, every)))
    assert parsed, f"{path.name} fits no command's config"
    for name in set(data) & set(every):
        if name not in {f.name for f in dataclasses.fields(every[name])}:  # a section, not a setting
            from_dict(every[name], config_values(data, every[name], name, every))


def test_there_is_a_config_per_seed_scenario():
    names = {p.name for p in CONFIGS}
    assert {
        "homedepot_binary.yaml",
        "homedepot_mse.yaml",
        "seed002_pairwise_margin.yaml",
        "swift_listwise.yaml",
        "esci_generative_lora.yaml",
        "qwen3_reranker_homedepot.yaml",
        "seed002_pairwise_qlora.yaml",
        "swift_generative_listwise.yaml",
    } <= names


def test_esci_config_bins_home_depot_grades_into_four_classes(shared_data):
    from rankwright.data.labels import build_scheme
    from rankwright.data.readers import read_relevance

    config = from_dict(TrainConfig, yaml.safe_load((CONFIGS[0].parent / "esci_generative_lora.yaml").read_text()))
    config.data.path = str(shared_data / "homedepot" / "train.csv.zip")
    data = read_relevance(config.data)
    scheme = build_scheme(config.labels, data)
    scheme.validate(data)
    classes = pd.Series(scheme.class_index(data.pairs["label"])).map(dict(enumerate(scheme.classes)))
    raw = data.pairs["label"].astype(float).to_numpy()
    assert (classes[raw == 3.0] == "E").all() and (classes[(raw >= 2.33) & (raw < 3)] == "S").all()
    assert (classes[(raw >= 1.67) & (raw < 2.33)] == "C").all() and (classes[raw < 1.67] == "I").all()
    assert set(classes) == {"E", "S", "C", "I"}
    assert scheme.relevant(data.pairs["label"]).sum() == (raw >= 2.33).sum()
    assert config.loss.params == {"class_weights": "balanced"}  # the measured fix for the class collapse
