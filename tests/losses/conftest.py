"""Shared helpers for the loss tests: pad ragged groups into a [B, G] batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch

PadFn = Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def pad_groups(
    groups: Sequence[tuple[Sequence, Sequence]],
    *,
    junk_label: float = 7.0,
    seed: int = 0,
    label_dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lay out ``[(scores, labels), ...]`` groups of different sizes as padded tensors.

    Padded scores are random junk of magnitude 50..150 (either sign) and padded labels
    are ``junk_label``; the mask is False there. Scores of a group may be ``[n]`` or
    ``[n, C]`` (multi-class), giving ``[B, G]`` or ``[B, G, C]``.
    """
    gen = torch.Generator().manual_seed(seed)
    tensors = [(torch.as_tensor(s, dtype=torch.float32), torch.as_tensor(y, dtype=label_dtype)) for s, y in groups]
    width = max(len(y) for _, y in tensors)
    extra = tuple(tensors[0][0].shape[1:])
    shape = (len(tensors), width, *extra)
    magnitude = 50.0 + 100.0 * torch.rand(shape, generator=gen)
    sign = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
    scores = magnitude * sign
    labels = torch.full((len(tensors), width), junk_label, dtype=label_dtype)
    mask = torch.zeros((len(tensors), width), dtype=torch.bool)
    for b, (s, y) in enumerate(tensors):
        n = len(y)
        scores[b, :n] = s
        labels[b, :n] = y
        mask[b, :n] = True
    return scores, labels, mask


@pytest.fixture
def pad() -> PadFn:
    return pad_groups


def check_padding_gradient(loss_fn, scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> None:
    """Backward through ``loss_fn``: finite, non-zero on real positions, exactly 0 on padding."""
    scores = scores.clone().requires_grad_(True)
    loss_fn(scores, labels, mask).backward()
    grad = scores.grad
    assert torch.isfinite(grad).all()
    assert torch.equal(grad[~mask], torch.zeros_like(grad[~mask]))
    assert grad[mask].abs().sum() > 0


def check_bf16(loss_fn, scores32: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> None:
    """bf16 scores: the loss is computed in float32 on the rounded values, is close to the
    fp32 loss, and backward gives a finite bf16 gradient that is 0 on padding."""
    ref = loss_fn(scores32, labels, mask)
    scores16 = scores32.to(torch.bfloat16).requires_grad_(True)
    loss16 = loss_fn(scores16, labels, mask)
    assert torch.isfinite(loss16)
    assert torch.allclose(loss16.float(), loss_fn(scores16.detach().float(), labels, mask), atol=1e-6)
    assert abs(loss16.item() - ref.item()) <= 2e-2 * max(1.0, abs(ref.item()))
    loss16.backward()
    grad = scores16.grad
    assert grad is not None
    assert grad.dtype == torch.bfloat16
    assert torch.isfinite(grad.float()).all()
    assert grad.float().abs().sum() > 0
    assert torch.equal(grad[~mask].float(), torch.zeros_like(grad[~mask].float()))


@pytest.fixture(name="check_padding_gradient")
def _check_padding_gradient_fixture():
    return check_padding_gradient


@pytest.fixture(name="check_bf16")
def _check_bf16_fixture():
    return check_bf16
