"""Distillation losses: the student learns a teacher's scores (e.g. FlagEmbedding
``pos_scores``/``neg_scores``, or scores a trained reranker wrote). Documents without
a teacher score (NaN labels, e.g. random negatives drawn from the pool) are masked."""

from __future__ import annotations

import torch

from rankwright.losses.base import RerankLoss


def _teacher_mask(labels: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    known = mask & ~torch.isnan(labels)
    return torch.nan_to_num(labels.float(), nan=0.0), known


class MarginMSELoss(RerankLoss):
    """MarginMSE: ``((s_i - s_j) - (t_i - t_j))^2`` over every pair of documents of a
    group (each pair once), averaged per group, then over groups.

    | inputs | labels | outputs |
    | --- | --- | --- |
    | scores ``[B, G]`` | teacher scores ``[B, G]`` | 1 |

    With one positive and its negatives this is Hofstätter et al.'s MarginMSE (the
    positive-negative margins) plus the negative-negative margins. The student matches
    the teacher's score differences, not its scale, so teachers of any scale work.
    """

    label_kind = "teacher"
    grouped = True

    def forward(self, scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        teacher, known = _teacher_mask(labels, mask)
        student = scores.float()
        err = (student.unsqueeze(2) - student.unsqueeze(1)) - (teacher.unsqueeze(2) - teacher.unsqueeze(1))
        n = scores.shape[1]
        upper = torch.ones(n, n, dtype=torch.bool, device=scores.device).triu(1)
        valid = known.unsqueeze(2) & known.unsqueeze(1) & upper
        counts = valid.flatten(1).sum(1)
        per_group = (err.pow(2) * valid).flatten(1).sum(1) / counts.clamp(min=1)
        has = counts > 0
        return per_group[has].mean() if has.any() else student.sum() * 0.0


class ListwiseKLLoss(RerankLoss):
    """KL divergence from the teacher's softmax over a group to the student's, both at
    ``temperature``, averaged over groups.

    | inputs | labels | outputs |
    | --- | --- | --- |
    | scores ``[B, G]`` | teacher scores ``[B, G]`` | 1 |

    Use it to distil a teacher's whole ranking of a group (soft targets); a lower
    temperature sharpens the teacher's distribution towards its top document.

    The gradient with respect to a student score is ``(q - p) / temperature``, the
    scale of a softmax cross-entropy at that temperature. There is no ``temperature**2``
    factor (Hinton et al.'s, meant for temperatures above 1 on top of a hard-label
    loss): with a cosine teacher in [-1, 1] the useful temperatures are below 1, where
    that factor would shrink the gradients by the temperature (20x at 0.05).
    """

    label_kind = "teacher"
    grouped = True

    def __init__(self, temperature: float = 1.0):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        teacher, known = _teacher_mask(labels, mask)
        t = self.temperature
        neg_inf = torch.finfo(torch.float32).min
        log_p = torch.log_softmax((teacher / t).masked_fill(~known, neg_inf), dim=-1)
        log_q = torch.log_softmax((scores.float() / t).masked_fill(~known, neg_inf), dim=-1)
        per_doc = torch.where(known, log_p.exp() * (log_p - log_q), torch.zeros_like(log_p))
        has = known.sum(1) > 1  # a group of one document carries no ranking
        if not has.any():
            return scores.float().sum() * 0.0
        return per_doc.sum(1)[has].mean()
