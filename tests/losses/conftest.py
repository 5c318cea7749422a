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
