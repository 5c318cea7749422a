"""Listwise losses: a softmax over the documents of a group."""

from __future__ import annotations

import torch

from rankwright.losses.base import RerankLoss

NEG_INF = -1e4


class ListwiseSoftmaxCELoss(RerankLoss):
    """Softmax cross-entropy of each positive against the group's negatives.

    | inputs | labels | outputs |
    | --- | --- | --- |
    | scores ``[B, G]`` | 0/1 relevance ``[B, G]`` | 1 |

    For each positive p: ``-log softmax(s / T)`` of p over {p} and the negatives, so
    several positives do not compete with each other; averaged over a group's
    positives, then over groups. Groups with fewer than ``min_group_size`` documents
    or no positive are skipped (SWIFT's listwise reranker: 1 positive + n negatives,
    temperature, minimum group size; seed 003). Use it when you have positives and
    sampled or mined negatives per query: it is the usual strongest choice.
    """

    label_kind = "binary"
    needs_positive = True
    grouped = True

    def __init__(self, temperature: float = 1.0, min_group_size: int = 2):
        super().__init__()
        if temperature <= 0:
            raise ValueError("temperature must be positive")
        self.temperature = temperature
        self.min_group_size = min_group_size

    def forward(self, scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = scores.float() / self.temperature
        positive = (labels > 0) & mask
        negative = (labels <= 0) & mask
        neg_logits = logits.masked_fill(~negative, NEG_INF)
        # logsumexp over negatives, then combined with each positive's own logit.
        neg_lse = torch.logsumexp(neg_logits, dim=1, keepdim=True)
        has_neg = negative.any(dim=1, keepdim=True)
        denom = torch.where(has_neg, torch.logaddexp(logits, neg_lse), logits)
        per_pos = denom - logits
        counts = positive.sum(1)
        keep = (counts > 0) & (mask.sum(1) >= self.min_group_size)
        per_group = (per_pos * positive).sum(1) / counts.clamp(min=1)
        return per_group[keep].mean() if keep.any() else logits.sum() * 0.0


class ListNetLoss(RerankLoss):
    """ListNet (top-one probability): cross-entropy between ``softmax(gain / T_label)``
    and ``softmax(score / T)`` over the group.

    | inputs | labels | outputs |
    | --- | --- | --- |
    | scores ``[B, G]`` | graded gain ``[B, G]`` | 1 |

    Use it for graded labels over whole candidate lists (Home Depot, Cranfield). Groups
    whose documents all have the same gain carry no order and are skipped.
    """

    label_kind = "gain"
    grouped = True

    def __init__(self, temperature: float = 1.0, label_temperature: float = 1.0):
        super().__init__()
        self.temperature = temperature
        self.label_temperature = label_temperature

    def forward(self, scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax((scores.float() / self.temperature).masked_fill(~mask, NEG_INF), dim=1)
        target = torch.softmax((labels.float() / self.label_temperature).masked_fill(~mask, NEG_INF), dim=1)
        per_group = -(target * log_p * mask).sum(1)
        gains = labels.float().masked_fill(~mask, float("nan"))
        spread = torch.nan_to_num(gains, nan=-torch.inf).amax(1) - torch.nan_to_num(gains, nan=torch.inf).amin(1)
        keep = (mask.sum(1) >= 2) & (spread > 0)
        return per_group[keep].mean() if keep.any() else scores.float().sum() * 0.0
