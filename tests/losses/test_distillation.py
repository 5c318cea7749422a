"""Distillation losses against hand-computed values; teacher-less documents (NaN) and
padding are masked; bf16; a student that copies the teacher has zero loss."""

from __future__ import annotations

import math

import pytest
import torch

from rankwright.losses import ListwiseKLLoss, MarginMSELoss

NAN = float("nan")


def test_margin_mse_by_hand(pad):
    # group 1: pairs (0,1): (2-1)-(3-0)=-2 -> 4; (0,2): (2-0)-(3-1)=0; (1,2): (1-0)-(0-1)=2 -> 4 => 8/3
    # group 2: one pair: (0.5-1.5)-(2-2) = -1 -> 1
    scores, labels, mask = pad([([2.0, 1.0, 0.0], [3.0, 0.0, 1.0]), ([0.5, 1.5], [2.0, 2.0])])
    loss = MarginMSELoss()(scores, labels, mask)
    assert loss.item() == pytest.approx((8 / 3 + 1) / 2, rel=1e-6)


def test_margin_mse_ignores_scale_and_teacherless_documents(pad):
    teacher = [4.0, 1.0, -2.0]
    student = [t + 10.0 for t in teacher]  # same margins, shifted: loss 0
    scores, labels, mask = pad([([*student, 99.0], [*teacher, NAN])])
    assert MarginMSELoss()(scores, labels, mask).item() == pytest.approx(0.0, abs=1e-9)


def test_listwise_kl_by_hand(pad):
    t, s = torch.tensor([2.0, 0.0, 1.0]), torch.tensor([0.0, 1.0, 0.0])
    p, q = torch.softmax(t / 2, 0), torch.softmax(s / 2, 0)
    expected = float((p * (p.log() - q.log())).sum())
    scores, labels, mask = pad([(s.tolist(), t.tolist()), ([5.0], [1.0])])  # a single-document group adds nothing
    assert ListwiseKLLoss(temperature=2.0)(scores, labels, mask).item() == pytest.approx(expected, rel=1e-5)
    same, _, _ = pad([(t.tolist(), t.tolist())])
    assert ListwiseKLLoss()(same, *pad([(t.tolist(), t.tolist())])[1:]).item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="positive"):
        ListwiseKLLoss(temperature=0)


@pytest.mark.parametrize("temperature", [0.05, 1.0, 3.0])
def test_listwise_kl_gradient_is_softmax_difference_over_temperature(pad, temperature):
    teacher, student = [0.62, 0.55, 0.31], [0.1, 0.4, -0.2]  # cosine-scale teacher
    scores, labels, mask = pad([(student, teacher)])
    scores.requires_grad_(True)
    ListwiseKLLoss(temperature=temperature)(scores, labels, mask).backward()
    p = torch.softmax(torch.tensor(teacher) / temperature, 0)
    q = torch.softmax(torch.tensor(student) / temperature, 0)
    assert torch.allclose(scores.grad[0, :3], (q - p) / temperature, atol=1e-5)


@pytest.mark.parametrize("loss_fn", [MarginMSELoss(), ListwiseKLLoss(temperature=0.7)])
def test_gradients_masked_and_bf16(pad, check_padding_gradient, check_bf16, loss_fn):
    scores, labels, mask = pad([([0.3, -1.2, 2.0, 0.1], [1.0, 0.2, NAN, -0.5]), ([1.0, 0.0], [0.0, 2.0])])
    check_padding_gradient(loss_fn, scores, labels, mask & ~torch.isnan(labels))
    grad_scores = scores.clone().requires_grad_(True)
    loss_fn(grad_scores, labels, mask).backward()
    assert grad_scores.grad[0, 2] == 0  # no teacher score: no gradient
    check_bf16(loss_fn, scores, labels, mask & ~torch.isnan(labels))
    assert math.isfinite(loss_fn(scores, labels, mask).item())
