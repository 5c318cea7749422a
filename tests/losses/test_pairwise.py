"""Pairwise losses: hand-computed values, padding, bf16 and gradient masking."""

from __future__ import annotations

import math
from itertools import product

import pytest
import torch

from rankwright.losses import MarginRankingLoss, RankNetLoss


def single(scores: list[float], labels: list[float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.tensor([scores]), torch.tensor([labels]), torch.ones((1, len(scores)), dtype=torch.bool)


def hinge_group(scores: list[float], labels: list[float], margin: float = 1.0) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y > 0]
    neg = [s for s, y in zip(scores, labels, strict=True) if y <= 0]
    pairs = [max(0.0, margin - (sp - sn)) for sp, sn in product(pos, neg)]
    return sum(pairs) / len(pairs)


# ---------------------------------------------------------------------------
# MarginRankingLoss
# ---------------------------------------------------------------------------

G1_SCORES = [1.2, 0.3, 0.8, -0.1]
G1_LABELS = [1.0, 1.0, 0.0, 0.0]


def test_margin_hand_computed_two_positives_two_negatives():
    # pairs (p, n): (1.2, 0.8) (1.2, -0.1) (0.3, 0.8) (0.3, -0.1)
    expected = (
        max(0.0, 1 - (1.2 - 0.8)) + max(0.0, 1 - (1.2 - -0.1)) + max(0.0, 1 - (0.3 - 0.8)) + max(0.0, 1 - (0.3 - -0.1))
    ) / 4
    assert expected == pytest.approx(0.675)
    loss = MarginRankingLoss(margin=1.0)(*single(G1_SCORES, G1_LABELS))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_margin_group_without_positive_contributes_nothing():
    scores = torch.tensor([G1_SCORES, [0.5, -0.2, 0.1, 9.0]])
    labels = torch.tensor([G1_LABELS, [0.0, 0.0, 0.0, 0.0]])
    mask = torch.ones((2, 4), dtype=torch.bool)
    loss = MarginRankingLoss()(scores, labels, mask)
    assert loss.item() == pytest.approx(hinge_group(G1_SCORES, G1_LABELS), abs=1e-6)


def test_margin_batch_is_mean_over_groups_with_pairs():
    # group A: 4 pairs, loss 0.675; group B: 1 pair, max(0, 1 - (0.4 - 0.9)) = 1.5;
    # group C: only negatives. Mean over groups (not over the 5 pairs).
    scores = torch.tensor([G1_SCORES, [0.4, 0.9, 55.0, 55.0], [0.1, 0.2, 0.3, 0.4]])
    labels = torch.tensor([G1_LABELS, [1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[True] * 4, [True, True, False, False], [True] * 4])
    loss = MarginRankingLoss()(scores, labels, mask)
    expected = (0.675 + max(0.0, 1 - (0.4 - 0.9))) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert loss.item() != pytest.approx((0.675 * 4 + 1.5) / 5, abs=1e-3)


def test_margin_other_margin():
    loss = MarginRankingLoss(margin=0.5)(*single(G1_SCORES, G1_LABELS))
    assert loss.item() == pytest.approx(hinge_group(G1_SCORES, G1_LABELS, margin=0.5), abs=1e-6)


def test_margin_no_pairs_anywhere_gives_zero_with_grad():
    scores = torch.tensor([[0.3, 1.0], [2.0, -1.0]], requires_grad=True)
    labels = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    loss = MarginRankingLoss()(scores, labels, torch.ones((2, 2), dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(scores.grad, torch.zeros_like(scores))


# ---------------------------------------------------------------------------
# RankNet
# ---------------------------------------------------------------------------


def test_ranknet_hand_computed_graded_labels():
    s = [0.5, 1.5, -0.3]
    # labels [3, 1, 0]: ordered pairs with label_i > label_j are (0,1), (0,2), (1,2)
    expected = (
        math.log(1 + math.exp(-(s[0] - s[1]))) + math.log(1 + math.exp(-(s[0] - s[2])))
        + math.log(1 + math.exp(-(s[1] - s[2])))
    ) / 3  # fmt: skip
    loss = RankNetLoss(sigma=1.0)(*single(s, [3.0, 1.0, 0.0]))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_ranknet_sigma():
    s = [0.5, 1.5, -0.3]
    sigma = 2.0
    pairs = [(0, 1), (0, 2), (1, 2)]
    expected = sum(math.log(1 + math.exp(-sigma * (s[i] - s[j]))) for i, j in pairs) / 3
    loss = RankNetLoss(sigma=sigma)(*single(s, [3.0, 1.0, 0.0]))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_ranknet_ties_make_no_pair_and_order_of_docs_is_irrelevant():
    s = [0.5, 1.5, -0.3, 0.2]
    labels = [1.0, 1.0, 0.0, 2.0]
    # pairs with label_i > label_j: (3,0) (3,1) (3,2) (0,2) (1,2); the tie (0,1) is none
    pairs = [(3, 0), (3, 1), (3, 2), (0, 2), (1, 2)]
    expected = sum(math.log(1 + math.exp(-(s[i] - s[j]))) for i, j in pairs) / len(pairs)
    loss = RankNetLoss()(*single(s, labels))
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    perm = [2, 0, 3, 1]
    permuted = RankNetLoss()(*single([s[k] for k in perm], [labels[k] for k in perm]))
    assert permuted.item() == pytest.approx(expected, abs=1e-6)


def test_ranknet_batch_mean_over_groups_with_pairs():
    scores = torch.tensor([[0.5, 1.5, -0.3], [0.2, 0.9, -77.0], [1.0, 1.0, 1.0]])
    labels = torch.tensor([[3.0, 1.0, 0.0], [2.0, 0.0, 5.0], [1.0, 1.0, 1.0]])
    mask = torch.tensor([[True] * 3, [True, True, False], [True] * 3])
    s = [0.5, 1.5, -0.3]
    g1 = sum(math.log(1 + math.exp(-(s[i] - s[j]))) for i, j in [(0, 1), (0, 2), (1, 2)]) / 3
    g2 = math.log(1 + math.exp(-(0.2 - 0.9)))
    loss = RankNetLoss()(scores, labels, mask)
    assert loss.item() == pytest.approx((g1 + g2) / 2, abs=1e-6)


# ---------------------------------------------------------------------------
# Generic properties: padding, bf16, gradient masking
# ---------------------------------------------------------------------------

# (scores, labels, counts): counts says whether the group has any pair.
BINARY_GROUPS = [
    ([0.5, -1.0, 2.0, 0.1], [1.0, 0.0, 0.0, 1.0], True),
    ([1.5, 0.3], [0.0, 0.0], False),
    ([-0.3, 0.8, 0.4], [1.0, 0.0, 1.0], True),
    ([0.9], [1.0], False),
    ([0.2, -2.0], [0.0, 1.0], True),
]
GRADED_GROUPS = [
    ([0.5, -1.0, 2.0, 0.1], [3.0, 1.0, 0.0, 2.0], True),
    ([1.5, 0.3], [1.0, 1.0], False),
    ([-0.3, 0.8, 0.4], [1.0, 0.0, 2.0], True),
    ([0.9], [2.0], False),
    ([0.2, -2.0], [0.0, 2.0], True),
]

PAIRWISE = [
    pytest.param(MarginRankingLoss, {}, BINARY_GROUPS, id="margin"),
    pytest.param(MarginRankingLoss, {"margin": 0.3}, BINARY_GROUPS, id="margin-0.3"),
    pytest.param(RankNetLoss, {}, GRADED_GROUPS, id="ranknet"),
    pytest.param(RankNetLoss, {"sigma": 2.0}, GRADED_GROUPS, id="ranknet-sigma2"),
]


@pytest.mark.parametrize(("cls", "params", "groups"), PAIRWISE)
@pytest.mark.parametrize("junk_label", [7.0, -3.0, 0.0])
def test_padding_equals_mean_of_unpadded_groups(pad, cls, params, groups, junk_label):
    loss_fn = cls(**params)
    scores, labels, mask = pad([(s, y) for s, y, _ in groups], junk_label=junk_label)
    padded = loss_fn(scores, labels, mask)
    per_group = [loss_fn(*single(s, y)) for s, y, counts in groups if counts]
    expected = torch.stack(per_group).mean()
    assert torch.isfinite(padded)
    assert torch.allclose(padded, expected, atol=1e-6), (padded.item(), expected.item())


@pytest.mark.parametrize(("cls", "params", "groups"), PAIRWISE)
def test_padding_gradient_is_zero_on_padded_positions(pad, check_padding_gradient, cls, params, groups):
    scores, labels, mask = pad([(s, y) for s, y, _ in groups])
    check_padding_gradient(cls(**params), scores, labels, mask)


@pytest.mark.parametrize(("cls", "params", "groups"), PAIRWISE)
def test_bf16_scores(pad, check_bf16, cls, params, groups):
    scores32, labels, mask = pad([(s, y) for s, y, _ in groups])
    check_bf16(cls(**params), scores32, labels, mask)
