"""Listwise losses: hand-computed values, padding, bf16 and gradient masking."""

from __future__ import annotations

import math

import pytest
import torch

from rankwright.losses import ListNetLoss, ListwiseSoftmaxCELoss


def single(scores: list[float], labels: list[float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.tensor([scores]), torch.tensor([labels]), torch.ones((1, len(scores)), dtype=torch.bool)


def softmax(values: list[float]) -> list[float]:
    exps = [math.exp(v) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def log_softmax(values: list[float]) -> list[float]:
    lse = math.log(sum(math.exp(v) for v in values))
    return [v - lse for v in values]


def listwise_ce_group(scores: list[float], labels: list[float], t: float) -> float:
    """Each positive contrasted against the negatives only, averaged over positives."""
    neg = [s for s, y in zip(scores, labels, strict=True) if y <= 0]
    per_pos = []
    for s, y in zip(scores, labels, strict=True):
        if y > 0:
            num = math.exp(s / t)
            per_pos.append(-math.log(num / (num + sum(math.exp(n / t) for n in neg))))
    return sum(per_pos) / len(per_pos)


# ---------------------------------------------------------------------------
# ListwiseSoftmaxCELoss
# ---------------------------------------------------------------------------

T = 0.5
ONE_POS = ([1.0, 0.2, -0.5, 0.7], [1.0, 0.0, 0.0, 0.0])
TWO_POS = ([0.9, 0.1, 0.4, -0.3], [1.0, 1.0, 0.0, 0.0])


def test_listwise_ce_one_positive_is_softmax_of_positive():
    s = ONE_POS[0]
    expected = -math.log(math.exp(s[0] / T) / sum(math.exp(v / T) for v in s))
    loss = ListwiseSoftmaxCELoss(temperature=T)(*single(*ONE_POS))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_listwise_ce_two_positives_do_not_compete():
    s = TWO_POS[0]
    negs = math.exp(0.4 / T) + math.exp(-0.3 / T)
    l0 = -math.log(math.exp(s[0] / T) / (math.exp(s[0] / T) + negs))
    l1 = -math.log(math.exp(s[1] / T) / (math.exp(s[1] / T) + negs))
    expected = (l0 + l1) / 2
    loss = ListwiseSoftmaxCELoss(temperature=T)(*single(*TWO_POS))
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    # a plain softmax over the whole group (positives competing) would be larger
    full = sum(math.exp(v / T) for v in s)
    competing = (-math.log(math.exp(s[0] / T) / full) - math.log(math.exp(s[1] / T) / full)) / 2
    assert loss.item() < competing - 1e-3


def test_listwise_ce_no_negatives_gives_zero_for_the_group():
    loss = ListwiseSoftmaxCELoss(temperature=T)(*single([0.5, 0.6], [1.0, 1.0]))
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_listwise_ce_batch_skips_small_and_positive_less_groups():
    loss_fn = ListwiseSoftmaxCELoss(temperature=T, min_group_size=3)
    scores = torch.tensor(
        [
            ONE_POS[0],
            TWO_POS[0],
            [0.3, 0.1, 123.0, 123.0],  # 2 real docs < min_group_size 3: skipped
            [0.2, -0.1, 0.4, 0.8],  # no positive: skipped
            [0.5, 0.6, 0.7, 123.0],  # no negatives: counts, as 0
        ]
    )
    labels = torch.tensor(
        [
            ONE_POS[1],
            TWO_POS[1],
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [1.0, 1.0, 1.0, 0.0],
        ]
    )
    mask = torch.tensor(
        [
            [True] * 4,
            [True] * 4,
            [True, True, False, False],
            [True] * 4,
            [True, True, True, False],
        ]
    )
    expected = (listwise_ce_group(*ONE_POS, t=T) + listwise_ce_group(*TWO_POS, t=T) + 0.0) / 3
    loss = loss_fn(scores, labels, mask)
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_listwise_ce_default_min_group_size_skips_single_doc_group():
    scores = torch.tensor([ONE_POS[0], [5.0, 123.0, 123.0, 123.0]])
    labels = torch.tensor([ONE_POS[1], [1.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[True] * 4, [True, False, False, False]])
    loss = ListwiseSoftmaxCELoss(temperature=T)(scores, labels, mask)
    assert loss.item() == pytest.approx(listwise_ce_group(*ONE_POS, t=T), abs=1e-6)


def test_listwise_ce_nothing_counts_gives_zero_with_grad():
    scores = torch.tensor([[0.3, 1.0], [2.0, 123.0]], requires_grad=True)
    labels = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    loss = ListwiseSoftmaxCELoss()(scores, labels, mask)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(scores.grad, torch.zeros_like(scores))


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_listwise_ce_rejects_non_positive_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        ListwiseSoftmaxCELoss(temperature=temperature)


# ---------------------------------------------------------------------------
# ListNet
# ---------------------------------------------------------------------------


def listnet_group(scores: list[float], gains: list[float], t: float = 1.0, t_label: float = 1.0) -> float:
    target = softmax([g / t_label for g in gains])
    log_p = log_softmax([s / t for s in scores])
    return -sum(q * lp for q, lp in zip(target, log_p, strict=True))


def test_listnet_hand_computed():
    s, g = [0.3, 1.0, -0.2], [2.0, 1.0, 0.0]
    target = [math.exp(2) / (math.exp(2) + math.exp(1) + 1), math.exp(1) / (math.exp(2) + math.exp(1) + 1)]
    target.append(1 - sum(target))
    lse = math.log(math.exp(0.3) + math.exp(1.0) + math.exp(-0.2))
    expected = -(target[0] * (0.3 - lse) + target[1] * (1.0 - lse) + target[2] * (-0.2 - lse))
    loss = ListNetLoss()(*single(s, g))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_listnet_temperatures():
    s, g = [0.3, 1.0, -0.2], [2.0, 1.0, 0.0]
    expected = listnet_group(s, g, t=0.5, t_label=2.0)
    loss = ListNetLoss(temperature=0.5, label_temperature=2.0)(*single(s, g))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_listnet_equal_gains_group_is_skipped():
    scores = torch.tensor([[0.3, 1.0, -0.2], [0.5, -0.5, 2.0], [0.1, 123.0, 123.0]])
    labels = torch.tensor([[2.0, 1.0, 0.0], [1.0, 1.0, 1.0], [2.0, 0.0, 3.0]])
    mask = torch.tensor([[True] * 3, [True] * 3, [True, False, False]])
    loss = ListNetLoss()(scores, labels, mask)
    # group 2: all gains equal, skipped; group 3: one real doc, skipped
    assert loss.item() == pytest.approx(listnet_group([0.3, 1.0, -0.2], [2.0, 1.0, 0.0]), abs=1e-6)


def test_listnet_nothing_counts_gives_zero_with_grad():
    scores = torch.tensor([[0.3, 1.0], [2.0, 123.0]], requires_grad=True)
    labels = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    loss = ListNetLoss()(scores, labels, mask)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(scores.grad, torch.zeros_like(scores))


# ---------------------------------------------------------------------------
# Generic properties: padding, bf16, gradient masking
# ---------------------------------------------------------------------------

BINARY_GROUPS = [
    ([0.5, -1.0, 2.0, 0.1], [1.0, 0.0, 0.0, 1.0]),
    ([1.5, 0.3], [0.0, 0.0]),  # no positive
    ([-0.3, 0.8, 0.4], [1.0, 0.0, 0.0]),
    ([0.9], [1.0]),  # one document
    ([0.2, -0.4], [1.0, 1.0]),  # no negatives
    ([0.2, -2.0], [0.0, 1.0]),
]
GRADED_GROUPS = [
    ([0.5, -1.0, 2.0, 0.1], [3.0, 1.0, 0.0, 2.0]),
    ([1.5, 0.3], [1.0, 1.0]),  # equal gains
    ([-0.3, 0.8, 0.4], [1.0, 0.0, 2.0]),
    ([0.9], [2.0]),  # one document
    ([0.2, -2.0], [0.0, 2.0]),
]


def group_counts(loss_fn: torch.nn.Module, labels: list[float]) -> bool:
    """The documented rule for whether a group enters the mean over groups."""
    if isinstance(loss_fn, ListwiseSoftmaxCELoss):
        return any(y > 0 for y in labels) and len(labels) >= loss_fn.min_group_size
    return len(labels) >= 2 and max(labels) > min(labels)


LISTWISE = [
    pytest.param(ListwiseSoftmaxCELoss, {}, BINARY_GROUPS, id="listwise_ce"),
    pytest.param(ListwiseSoftmaxCELoss, {"temperature": 0.5}, BINARY_GROUPS, id="listwise_ce-T0.5"),
    pytest.param(
        ListwiseSoftmaxCELoss, {"temperature": 0.05, "min_group_size": 3}, BINARY_GROUPS, id="listwise_ce-min3"
    ),
    pytest.param(ListNetLoss, {}, GRADED_GROUPS, id="listnet"),
    pytest.param(ListNetLoss, {"temperature": 0.5, "label_temperature": 2.0}, GRADED_GROUPS, id="listnet-temps"),
]


@pytest.mark.parametrize(("cls", "params", "groups"), LISTWISE)
@pytest.mark.parametrize("junk_label", [7.0, -3.0, 0.0])
def test_padding_equals_mean_of_unpadded_groups(pad, cls, params, groups, junk_label):
    loss_fn = cls(**params)
    scores, labels, mask = pad(groups, junk_label=junk_label)
    padded = loss_fn(scores, labels, mask)
    per_group = [loss_fn(*single(s, y)) for s, y in groups if group_counts(loss_fn, y)]
    expected = torch.stack(per_group).mean()
    assert torch.isfinite(padded)
    assert torch.allclose(padded, expected, atol=1e-6), (padded.item(), expected.item())


@pytest.mark.parametrize(("cls", "params", "groups"), LISTWISE)
def test_padding_gradient_is_zero_on_padded_positions(pad, check_padding_gradient, cls, params, groups):
    scores, labels, mask = pad(groups)
    check_padding_gradient(cls(**params), scores, labels, mask)


@pytest.mark.parametrize(("cls", "params", "groups"), LISTWISE)
def test_bf16_scores(pad, check_bf16, cls, params, groups):
    scores32, labels, mask = pad(groups)
    check_bf16(cls(**params), scores32, labels, mask)
