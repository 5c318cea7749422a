"""Pointwise losses: each (query, document) pair on its own. Averaged over every real
document of the batch, so a padded batch gives the loss of its pairs concatenated."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rankwright.losses.base import RerankLoss, masked_mean


class BinaryCrossEntropyLoss(RerankLoss):
    """Binary cross-entropy on the raw score (a logit).

    | inputs | labels | outputs |
    | --- | --- | --- |
    | scores ``[B, G]`` | 0/1 relevance ``[B, G]`` | 1 |

    Use it for binary judgments (Home Depot with threshold 2.33, seed-001/003 pointwise
    training). ``pos_weight`` > 1 up-weights positives when they are rare.
    """

    label_kind = "binary"

    def __init__(self, pos_weight: float | None = None):
        super().__init__()
        self.pos_weight = pos_weight

    def forward(self, scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weight = None if self.pos_weight is None else torch.tensor(self.pos_weight, device=scores.device)
        per_doc = F.binary_cross_entropy_with_logits(
            scores.float(), labels.float(), pos_weight=weight, reduction="none"
        )
        return masked_mean(per_doc, mask)


class MultiClassCrossEntropyLoss(RerankLoss):
    """Cross-entropy over named classes (ESCI E/S/C/I).

    | inputs | labels | outputs |
    | --- | --- | --- |
    | scores ``[B, G, C]`` | class index ``[B, G]`` | C |

    Use it when the judgments are classes and the model should predict them; rank by
    the expected gain of the class probabilities. ``class_weights``: ``balanced`` (set
    from the training pairs' class counts, see :meth:`fit`) or one weight per class,
    against a model that answers the majority class only.
    """

    label_kind = "class"
    multi_class = True

    def __init__(self, label_smoothing: float = 0.0, class_weights: str | list[float] | None = None):
        super().__init__()
        self.label_smoothing = label_smoothing
        if isinstance(class_weights, str) and class_weights != "balanced":
            raise ValueError(f"class_weights must be 'balanced' or one weight per class, got {class_weights!r}")
        self.class_weights = class_weights
        self.weight: torch.Tensor | None = None
        if isinstance(class_weights, list | tuple):
            self.weight = torch.tensor([float(w) for w in class_weights])
            if (self.weight < 0).any() or not self.weight.sum() > 0:
                raise ValueError(f"class_weights must be >= 0 and not all 0, got {class_weights}")

    def fit(self, labels: np.ndarray, classes: list[str]) -> dict[str, Any]:
        """``class_weights``: ``balanced`` weighs each class by n / (classes x its count
        over the training pairs), scikit-learn's rule, so every class weighs as much in
        the loss as the others together would if they were equally common (a class with
        no training pair gets 0); a list gives one weight per class, in the order of
        ``classes``."""
        if self.class_weights is None:
            return {}
        if self.class_weights == "balanced":
            counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classes)).astype(float)
            weights = np.divide(counts.sum(), len(classes) * counts, out=np.zeros_like(counts), where=counts > 0)
            self.weight = torch.tensor(weights, dtype=torch.float32)
        elif len(self.weight) != len(classes):
            raise ValueError(
                f"class_weights has {len(self.weight)} weights but the labels have {len(classes)} classes {classes}"
            )
        return {"class_weights": dict(zip(classes, (round(float(w), 4) for w in self.weight), strict=True))}

    def forward(self, scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = scores.float().flatten(0, 1)
        # Padding may carry any label value: neutralise it before cross_entropy sees it.
        target = labels.long().flatten().masked_fill(~mask.flatten(), 0)
        weight = None if self.weight is None else self.weight.to(logits.device)
        per_doc = F.cross_entropy(logits, target, weight=weight, reduction="none", label_smoothing=self.label_smoothing)
        return masked_mean(per_doc, mask.flatten())


class MSELoss(RerankLoss):
    """Mean squared error between sigmoid(score) and a label scaled to [0, 1].

    | inputs | labels | outputs |
    | --- | --- | --- |
    | scores ``[B, G]`` | target in [0, 1] ``[B, G]`` | 1 |

    Use it for graded relevance treated as continuous (Home Depot: ``(relevance - 1) /
    2`` via ``labels.target_range: [1, 3]``). ``activation: identity`` regresses the raw
    score instead.
    """

    label_kind = "target"

    def __init__(self, activation: str = "sigmoid"):
        super().__init__()
        if activation not in ("sigmoid", "identity"):
            raise ValueError(f"mse activation must be sigmoid or identity, got {activation!r}")
        self.activation = activation

    def forward(self, scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        predicted = torch.sigmoid(scores.float()) if self.activation == "sigmoid" else scores.float()
        return masked_mean((predicted - labels.float()) ** 2, mask)
