"""The loss interface: a pure function of (scores, labels, mask).

``scores`` is ``[groups, docs]`` (one score per document) or ``[groups, docs,
classes]`` for multi-class losses; ``labels`` is ``[groups, docs]``; ``mask`` is a
boolean ``[groups, docs]`` that is False on padding. A pointwise batch is a batch of
groups of one. Losses compute in float32 whatever the input dtype (bf16 scores are
upcast), so they behave the same under mixed precision.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn


class RerankLoss(nn.Module):
    """Base class. Subclasses set what labels they need and whether they need groups.

    ``label_kind``: ``binary`` (0/1 relevance), ``target`` (a float in [0, 1]),
    ``class`` (class index), ``gain`` (graded gain) or ``teacher`` (a teacher's score,
    NaN where there is none).
    ``needs_positive``: groups without a positive are useless to this loss (the data
    check fails before training when no group has one).
    """

    label_kind: ClassVar[str] = "binary"
    needs_positive: ClassVar[bool] = False
    grouped: ClassVar[bool] = False
    #: number of model outputs this loss reads (None = one score per document)
    multi_class: ClassVar[bool] = False

    def forward(self, scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def fit(self, labels: np.ndarray, classes: list[str]) -> dict[str, Any]:
        """Settings of a class loss that depend on the training labels (``labels``: the
        class index of each judged training pair), set once before training; returns
        what was set, for the log and the summary (nothing here)."""
        return {}


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask``; 0 (with a gradient path) when nothing is valid."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def pair_differences(
    scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``s_i - s_j`` for every ordered pair in a group, and the mask of pairs where
    document i has a strictly higher label than document j (both real)."""
    diff = scores.unsqueeze(2) - scores.unsqueeze(1)
    valid = mask.unsqueeze(2) & mask.unsqueeze(1) & (labels.unsqueeze(2) > labels.unsqueeze(1))
    return diff, valid


def mean_over_groups(per_pair: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean over each group's valid pairs, then over groups that have any."""
    valid_f = valid.to(per_pair.dtype)
    counts = valid_f.flatten(1).sum(1)
    per_group = (per_pair * valid_f).flatten(1).sum(1) / counts.clamp(min=1.0)
    has = counts > 0
    return per_group[has].mean() if has.any() else per_pair.sum() * 0.0
