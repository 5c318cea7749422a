"""Pairwise losses over every ordered (better, worse) pair of documents in a group,
averaged per group, then over groups."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rankwright.losses.base import RerankLoss, mean_over_groups, pair_differences


class MarginRankingLoss(RerankLoss):
    """Hinge loss ``max(0, margin - (s_pos - s_neg))`` over every (positive, negative)
    pair of a group.

    | inputs | labels | outputs |
    | --- | --- | --- |
    | scores ``[B, G]`` | 0/1 relevance ``[B, G]`` | 1 |

    Use it for groups of one or several positives and sampled negatives (seed 002:
    multi-positive RAG chunks): every positive is pushed above every negative.
    """

    label_kind = "binary"
    needs_positive = True
    grouped = True

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = margin

    def forward(self, scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        diff, valid = pair_differences(scores.float(), labels.float(), mask)
        return mean_over_groups(F.relu(self.margin - diff), valid)


class RankNetLoss(RerankLoss):
    """RankNet: ``log(1 + exp(-sigma (s_i - s_j)))`` for every pair with gain_i > gain_j.

    | inputs | labels | outputs |
    | --- | --- | --- |
    | scores ``[B, G]`` | graded gain ``[B, G]`` | 1 |

    Use it for graded labels (Home Depot grades, Cranfield) when the order between
    relevance levels matters, not only relevant vs not.
    """

    label_kind = "gain"
    grouped = True

    def __init__(self, sigma: float = 1.0):
        super().__init__()
        self.sigma = sigma

    def forward(self, scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        diff, valid = pair_differences(scores.float(), labels.float(), mask)
        return mean_over_groups(F.softplus(-self.sigma * diff), valid)
