"""Pointwise losses: hand-computed values, padding, bf16 and gradient masking."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rankwright.losses import BinaryCrossEntropyLoss, MSELoss, MultiClassCrossEntropyLoss


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def log_softmax(row: list[float]) -> list[float]:
    lse = math.log(sum(math.exp(v) for v in row))
    return [v - lse for v in row]


def full_mask(n: int) -> torch.Tensor:
    return torch.ones((1, n), dtype=torch.bool)


def scalar(t: torch.Tensor) -> float:
    assert t.dim() == 0
    return t.item()


# ---------------------------------------------------------------------------
# Hand-computed values
# ---------------------------------------------------------------------------

BCE_SCORES = [0.5, -1.0, 2.0]
BCE_LABELS = [1.0, 0.0, 1.0]


def test_bce_hand_computed():
    # -log(sigmoid(x)) for a positive, -log(1 - sigmoid(x)) for a negative
    per_doc = [
        -math.log(sigmoid(0.5)),
        -math.log(1.0 - sigmoid(-1.0)),
        -math.log(sigmoid(2.0)),
    ]
    expected = sum(per_doc) / 3
    loss = BinaryCrossEntropyLoss()(torch.tensor([BCE_SCORES]), torch.tensor([BCE_LABELS]), full_mask(3))
    assert scalar(loss) == pytest.approx(expected, abs=1e-6)
    # cross-check with the softplus forms: log(1 + exp(-x)) and log(1 + exp(x))
    alt = (math.log(1 + math.exp(-0.5)) + math.log(1 + math.exp(-1.0)) + math.log(1 + math.exp(-2.0))) / 3
    assert scalar(loss) == pytest.approx(alt, abs=1e-6)


def test_bce_pos_weight_hand_computed():
    w = 3.0
    per_doc = [
        -w * math.log(sigmoid(0.5)),
        -math.log(1.0 - sigmoid(-1.0)),  # negatives are not re-weighted
        -w * math.log(sigmoid(2.0)),
    ]
    expected = sum(per_doc) / 3  # still divided by the number of documents
    loss = BinaryCrossEntropyLoss(pos_weight=w)(torch.tensor([BCE_SCORES]), torch.tensor([BCE_LABELS]), full_mask(3))
    assert scalar(loss) == pytest.approx(expected, abs=1e-6)


def test_bce_labels_as_ints_and_bools_work():
    scores = torch.tensor([BCE_SCORES])
    ref = BinaryCrossEntropyLoss()(scores, torch.tensor([BCE_LABELS]), full_mask(3))
    as_long = BinaryCrossEntropyLoss()(scores, torch.tensor([[1, 0, 1]]), full_mask(3))
    assert torch.allclose(ref, as_long, atol=1e-7)
    as_bool = BinaryCrossEntropyLoss()(scores, torch.tensor([[True, False, True]]), full_mask(3))
    assert torch.allclose(ref, as_bool, atol=1e-7)
    flipped = BinaryCrossEntropyLoss()(scores, torch.tensor([[False, True, False]]), full_mask(3))
    assert not torch.allclose(ref, flipped, atol=1e-3)  # the boolean labels are read, not ignored


CE_LOGITS = [[1.0, 2.0, 0.5, -1.0], [0.0, -0.5, 3.0, 1.0]]
CE_TARGETS = [1, 3]


def test_multiclass_ce_hand_computed():
    nll = [-log_softmax(row)[y] for row, y in zip(CE_LOGITS, CE_TARGETS, strict=True)]
    expected = sum(nll) / 2
    loss = MultiClassCrossEntropyLoss()(torch.tensor([CE_LOGITS]), torch.tensor([CE_TARGETS]), full_mask(2))
    assert scalar(loss) == pytest.approx(expected, abs=1e-6)


def test_multiclass_ce_label_smoothing_hand_computed():
    eps, n_classes = 0.1, 4
    per_doc = []
    for row, y in zip(CE_LOGITS, CE_TARGETS, strict=True):
        lsm = log_softmax(row)
        # target distribution: (1 - eps) on the class + eps / C spread over every class
        per_doc.append(-(1 - eps) * lsm[y] - (eps / n_classes) * sum(lsm))
    expected = sum(per_doc) / 2
    loss = MultiClassCrossEntropyLoss(label_smoothing=eps)(
        torch.tensor([CE_LOGITS]), torch.tensor([CE_TARGETS]), full_mask(2)
    )
    assert scalar(loss) == pytest.approx(expected, abs=1e-6)


def test_multiclass_ce_balanced_class_weights_hand_computed():
    """Balanced weights from the training counts (scikit-learn's n / (C x count_c)):
    3 pairs of class 0, 1 of class 1, none of 2 and 3 -> 4/(4*3), 4/(4*1), 0, 0;
    each document's loss is its class's weight times its NLL, averaged over documents."""
    loss = MultiClassCrossEntropyLoss(class_weights="balanced")
    fitted = loss.fit(np.array([0, 0, 1, 0]), ["E", "S", "C", "I"])
    assert fitted == {"class_weights": {"E": 0.3333, "S": 1.0, "C": 0.0, "I": 0.0}}
    weights = [1 / 3, 1.0, 0.0, 0.0]
    nll = [weights[y] * -log_softmax(row)[y] for row, y in zip(CE_LOGITS, CE_TARGETS, strict=True)]
    value = loss(torch.tensor([CE_LOGITS]), torch.tensor([CE_TARGETS]), full_mask(2))
    assert scalar(value) == pytest.approx(sum(nll) / 2, abs=1e-6)
    # a rare class's error costs more than a common one's: balanced weights move the loss
    plain = MultiClassCrossEntropyLoss()(torch.tensor([CE_LOGITS]), torch.tensor([CE_TARGETS]), full_mask(2))
    assert abs(scalar(value) - scalar(plain)) > 1e-3


def test_multiclass_ce_given_class_weights_and_their_errors():
    loss = MultiClassCrossEntropyLoss(class_weights=[1.0, 2.0, 0.5, 1.0])
    assert loss.fit(np.array([0]), ["E", "S", "C", "I"]) == {"class_weights": {"E": 1.0, "S": 2.0, "C": 0.5, "I": 1.0}}
    weights = [1.0, 2.0, 0.5, 1.0]
    nll = [weights[y] * -log_softmax(row)[y] for row, y in zip(CE_LOGITS, CE_TARGETS, strict=True)]
    value = loss(torch.tensor([CE_LOGITS]), torch.tensor([CE_TARGETS]), full_mask(2))
    assert scalar(value) == pytest.approx(sum(nll) / 2, abs=1e-6)
    with pytest.raises(ValueError, match="class_weights has 4 weights but the labels have 3 classes"):
        loss.fit(np.array([0]), ["E", "S", "I"])
    with pytest.raises(ValueError, match="'balanced' or one weight per class"):
        MultiClassCrossEntropyLoss(class_weights="inverse")
    with pytest.raises(ValueError, match=">= 0 and not all 0"):
        MultiClassCrossEntropyLoss(class_weights=[0.0, 0.0])
    assert MultiClassCrossEntropyLoss().fit(np.array([0, 1]), ["a", "b"]) == {}


def test_mse_sigmoid_hand_computed():
    scores = [0.3, -1.2, 2.0]
    targets = [(2.33 - 1) / 2, (1.0 - 1) / 2, (3.0 - 1) / 2]  # Home Depot grades scaled to [0, 1]
    expected = sum((sigmoid(s) - t) ** 2 for s, t in zip(scores, targets, strict=True)) / 3
    loss = MSELoss()(torch.tensor([scores]), torch.tensor([targets]), full_mask(3))
    assert scalar(loss) == pytest.approx(expected, abs=1e-6)


def test_mse_identity_hand_computed():
    scores = [0.5, 0.1, 0.9, -0.2]
    targets = [(2.33 - 1) / 2, 0.0, 1.0, 0.5]
    expected = sum((s - t) ** 2 for s, t in zip(scores, targets, strict=True)) / 4
    loss = MSELoss(activation="identity")(torch.tensor([scores]), torch.tensor([targets]), full_mask(4))
    assert scalar(loss) == pytest.approx(expected, abs=1e-6)


def test_mse_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        MSELoss(activation="tanh")


def test_pointwise_mean_is_over_documents_not_groups():
    # Group A has 3 docs, group B has 1: the loss weighs each document equally.
    per_doc = [
        -math.log(sigmoid(0.5)),
        -math.log(1 - sigmoid(-1.0)),
        -math.log(sigmoid(2.0)),
        -math.log(1 - sigmoid(0.7)),
    ]
    scores = torch.tensor([[0.5, -1.0, 2.0], [0.7, 123.0, 123.0]])
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    mask = torch.tensor([[True, True, True], [True, False, False]])
    loss = BinaryCrossEntropyLoss()(scores, labels, mask)
    assert scalar(loss) == pytest.approx(sum(per_doc) / 4, abs=1e-6)


def test_pointwise_nothing_valid_gives_zero_with_grad():
    scores = torch.tensor([[0.3, 1.0]], requires_grad=True)
    loss = BinaryCrossEntropyLoss()(scores, torch.tensor([[1.0, 0.0]]), torch.zeros((1, 2), dtype=torch.bool))
    assert scalar(loss) == 0.0
    loss.backward()
    assert torch.equal(scores.grad, torch.zeros_like(scores))


# ---------------------------------------------------------------------------
# Generic properties: padding, bf16, gradient masking
# ---------------------------------------------------------------------------


def binary_groups() -> list[tuple[list[float], list[float]]]:
    return [
        ([0.5, -1.0, 2.0, 0.1], [1.0, 0.0, 1.0, 0.0]),
        ([1.5], [0.0]),
        ([-0.3, 0.8], [1.0, 1.0]),
        ([0.2, -2.0, 0.9], [0.0, 0.0, 1.0]),
    ]


def target_groups() -> list[tuple[list[float], list[float]]]:
    return [
        ([0.5, -1.0, 2.0, 0.1], [0.665, 0.0, 1.0, 0.5]),
        ([1.5], [0.165]),
        ([-0.3, 0.8], [1.0, 0.335]),
        ([0.2, -2.0, 0.9], [0.0, 0.83, 1.0]),
    ]


def class_groups() -> list[tuple[list[list[float]], list[int]]]:
    gen = torch.Generator().manual_seed(3)
    sizes_and_labels = [[0, 3, 1, 2], [2], [1, 1], [3, 0, 2]]
    return [(torch.randn(len(y), 4, generator=gen).tolist(), y) for y in sizes_and_labels]


POINTWISE = [
    pytest.param(BinaryCrossEntropyLoss, {}, binary_groups, id="bce"),
    pytest.param(BinaryCrossEntropyLoss, {"pos_weight": 2.5}, binary_groups, id="bce-pos_weight"),
    pytest.param(MultiClassCrossEntropyLoss, {}, class_groups, id="ce"),
    pytest.param(MultiClassCrossEntropyLoss, {"label_smoothing": 0.1}, class_groups, id="ce-smoothing"),
    pytest.param(MSELoss, {}, target_groups, id="mse-sigmoid"),
    pytest.param(MSELoss, {"activation": "identity"}, target_groups, id="mse-identity"),
]


def junk_label_for(cls: type) -> float:
    # For the class loss, a junk label that is still a valid class index (see the
    # dedicated out-of-range test below).
    return 2.0 if cls is MultiClassCrossEntropyLoss else 7.0


@pytest.mark.parametrize(("cls", "params", "make_groups"), POINTWISE)
def test_padding_equals_concatenated_documents(pad, cls, params, make_groups):
    groups = make_groups()
    loss_fn = cls(**params)
    scores, labels, mask = pad(groups, junk_label=junk_label_for(cls))
    padded = loss_fn(scores, labels, mask)

    flat_scores = torch.cat([torch.as_tensor(s, dtype=torch.float32) for s, _ in groups]).unsqueeze(0)
    flat_labels = torch.cat([torch.as_tensor(y, dtype=torch.float32) for _, y in groups]).unsqueeze(0)
    concatenated = loss_fn(flat_scores, flat_labels, torch.ones(flat_labels.shape, dtype=torch.bool))
    assert torch.isfinite(padded)
    assert torch.allclose(padded, concatenated, atol=1e-6), (padded.item(), concatenated.item())


@pytest.mark.parametrize(("cls", "params", "make_groups"), POINTWISE)
def test_padding_gradient_is_zero_on_padded_positions(pad, check_padding_gradient, cls, params, make_groups):
    scores, labels, mask = pad(make_groups(), junk_label=junk_label_for(cls))
    check_padding_gradient(cls(**params), scores, labels, mask)


@pytest.mark.parametrize(("cls", "params", "make_groups"), POINTWISE)
def test_bf16_scores(pad, check_bf16, cls, params, make_groups):
    scores32, labels, mask = pad(make_groups(), junk_label=junk_label_for(cls))
    check_bf16(cls(**params), scores32, labels, mask)


def test_multiclass_ce_ignores_out_of_range_labels_on_padding(pad):
    """Labels under mask=False are padding: whatever their value, they must be ignored.

    Negative padding labels are clamped to 0 in the loss, but a padded label >= the
    number of classes reaches F.cross_entropy and raises (a device-side assert on GPU).
    """
    groups = class_groups()
    loss_fn = MultiClassCrossEntropyLoss()
    ref_scores, ref_labels, mask = pad(groups, junk_label=2.0)
    ref = loss_fn(ref_scores, ref_labels, mask)
    for junk in (-100.0, 99.0):
        scores, labels, mask = pad(groups, junk_label=junk)
        loss = loss_fn(scores, labels, mask)
        assert torch.allclose(loss, ref, atol=1e-6), junk
