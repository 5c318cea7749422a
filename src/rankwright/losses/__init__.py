"""Losses: one class per loss, each a function of (scores, labels, mask)."""

from __future__ import annotations

from typing import Any

from rankwright.losses.base import RerankLoss
from rankwright.losses.distillation import ListwiseKLLoss, MarginMSELoss
from rankwright.losses.listwise import ListNetLoss, ListwiseSoftmaxCELoss
from rankwright.losses.pairwise import MarginRankingLoss, RankNetLoss
from rankwright.losses.pointwise import BinaryCrossEntropyLoss, MSELoss, MultiClassCrossEntropyLoss

LOSSES: dict[str, type[RerankLoss]] = {
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


def build_loss(name: str, params: dict[str, Any] | None = None) -> RerankLoss:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    try:
        return LOSSES[name](**(params or {}))
    except TypeError as err:
        raise ValueError(f"loss {name!r}: bad parameters {params}: {err}") from None


__all__ = [
    "LOSSES",
    "BinaryCrossEntropyLoss",
    "ListNetLoss",
    "ListwiseKLLoss",
    "ListwiseSoftmaxCELoss",
    "MSELoss",
    "MarginMSELoss",
    "MarginRankingLoss",
    "MultiClassCrossEntropyLoss",
    "RankNetLoss",
    "RerankLoss",
    "build_loss",
]
