"""The loss registry: build_loss by name, with parameters, and its errors."""

from __future__ import annotations

import pytest
import torch

from rankwright.losses import (
    LOSSES,
    BinaryCrossEntropyLoss,
    ListNetLoss,
    ListwiseKLLoss,
    ListwiseSoftmaxCELoss,
    MarginMSELoss,
    MarginRankingLoss,
    MSELoss,
    MultiClassCrossEntropyLoss,
    RankNetLoss,
    RerankLoss,
    build_loss,
)

EXPECTED = {
    "bce": BinaryCrossEntropyLoss,
    "ce": MultiClassCrossEntropyLoss,
    "mse": MSELoss,
    "margin": MarginRankingLoss,
    "ranknet": RankNetLoss,
    "listwise_ce": ListwiseSoftmaxCELoss,
    "listnet": ListNetLoss,
    "margin_mse": MarginMSELoss,
    "listwise_kl": ListwiseKLLoss,
}


def test_registry_names_and_classes():
    assert LOSSES == EXPECTED


def test_build_listwise_ce_with_temperature():
    loss = build_loss("listwise_ce", {"temperature": 0.5})
    assert type(loss) is ListwiseSoftmaxCELoss
    assert loss.temperature == 0.5
    assert loss.min_group_size == 2  # default kept


@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.parametrize("params", [None, {}])
def test_build_every_loss_with_defaults(name, params):
    loss = build_loss(name, params)
    assert type(loss) is EXPECTED[name]
    assert isinstance(loss, RerankLoss)
    assert isinstance(loss, torch.nn.Module)


@pytest.mark.parametrize(
    ("name", "params", "attr", "value"),
    [
        ("bce", {"pos_weight": 4.0}, "pos_weight", 4.0),
        ("ce", {"label_smoothing": 0.1}, "label_smoothing", 0.1),
        ("mse", {"activation": "identity"}, "activation", "identity"),
        ("margin", {"margin": 0.25}, "margin", 0.25),
        ("ranknet", {"sigma": 2.0}, "sigma", 2.0),
        ("listwise_ce", {"min_group_size": 4}, "min_group_size", 4),
        ("listnet", {"label_temperature": 3.0}, "label_temperature", 3.0),
        ("listwise_kl", {"temperature": 2.0}, "temperature", 2.0),
    ],
)
def test_build_sets_parameters(name, params, attr, value):
    assert getattr(build_loss(name, params), attr) == value


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="unknown loss 'lambdarank'") as info:
        build_loss("lambdarank")
    message = str(info.value)
    for name in EXPECTED:
        assert name in message


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("listwise_ce", {"temprature": 0.5}),
        ("bce", {"margin": 1.0}),
        ("ranknet", {"sigma": 1.0, "extra": 2}),
    ],
)
def test_bad_parameter_names_raise_value_error_naming_the_loss(name, params):
    with pytest.raises(ValueError, match=f"loss '{name}'"):
        build_loss(name, params)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("listwise_ce", {"temperature": 0.0}, r"^temperature must be positive$"),
        ("listwise_ce", {"temperature": -1.0}, r"^temperature must be positive$"),
        ("listwise_kl", {"temperature": 0.0}, r"^temperature must be positive, got 0\.0$"),
        ("mse", {"activation": "relu"}, r"^mse activation must be sigmoid or identity, got 'relu'$"),
        ("ce", {"class_weights": "even"}, r"^class_weights must be 'balanced' or one weight per class, got 'even'$"),
        ("ce", {"class_weights": [0.0, 0.0]}, r"^class_weights must be >= 0 and not all 0, got \[0\.0, 0\.0\]$"),
        ("ce", {"class_weights": [1.0, -1.0]}, r"^class_weights must be >= 0 and not all 0, got \[1\.0, -1\.0\]$"),
    ],
)
def test_bad_parameter_values_raise_value_error(name, params, message):
    with pytest.raises(ValueError, match=message):
        build_loss(name, params)


def test_class_attributes_describe_the_losses():
    assert not BinaryCrossEntropyLoss.grouped
    assert not MSELoss.grouped
    assert MultiClassCrossEntropyLoss.multi_class
    assert MultiClassCrossEntropyLoss.label_kind == "class"
    assert MSELoss.label_kind == "target"
    for cls in (MarginRankingLoss, RankNetLoss, ListwiseSoftmaxCELoss, ListNetLoss):
        assert cls.grouped
    assert MarginRankingLoss.needs_positive
    assert ListwiseSoftmaxCELoss.needs_positive
    assert RankNetLoss.label_kind == "gain"
    assert ListNetLoss.label_kind == "gain"
