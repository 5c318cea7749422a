"""Padding-free batches: a batch's pairs laid end to end in one row of tokens.

The model runs on ``[1, total tokens]``: embeddings, projections, feed-forward layers and
norms see real tokens only. Each pair keeps its own position ids (restarting at 0) and
attends only to its own tokens: attention is the one place where the pairs are laid out
side by side again, in groups of consecutive pairs (``[pairs, the group's longest
pair]``, with a key mask, causal for decoders), through an attention function
registered with transformers' ``AttentionInterface``. Packed shortest first, the groups
pad attention little: on long pairs attention is most of the compute (bench/packing.py).
The scores, the loss and the gradients are those of the padded batch
(tests/models/test_packing.py checks them to 1e-5 for cross-encoders and for generative
heads).

It works for every model whose attention goes through transformers' attention interface
(``_supports_attention_backend``): BERT, RoBERTa, ELECTRA and the like, Qwen3, Llama.
Others (DeBERTa's relative attention, for one) are trained on padded chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

#: The name the packed attention is registered under in transformers' AttentionInterface.
PACKED_ATTENTION = "rankwright_packed"


@dataclass
class AttentionGroup:
    """Consecutive pairs of a packed row (tokens ``first`` to ``last``, exclusive) laid
    side by side for attention, each padded to the group's longest pair."""

    first: int
    last: int
    slots: torch.Tensor  # [tokens of the group] each token's row in the [pairs * width] layout
    pairs: int
    width: int
    keys: torch.Tensor  # [pairs, 1, 1, width] True where a key is a real token

    @classmethod
    def of(cls, lengths: torch.Tensor, first: int, within: torch.Tensor) -> AttentionGroup:
        """The group of pairs of ``lengths`` whose tokens start at ``first`` and sit at
        positions ``within`` their pairs."""
        pairs, width = len(lengths), int(lengths.max())
        rows = torch.arange(pairs, device=lengths.device).repeat_interleave(lengths)
        keys = (torch.arange(width, device=lengths.device)[None] < lengths[:, None])[:, None, None, :]
        return cls(first, first + len(within), rows * width + within, pairs, width, keys)

    def side_by_side(self, x: torch.Tensor) -> torch.Tensor:
        """The group's tokens of ``[1, heads, tokens, dim]`` as ``[pairs, heads, width, dim]``
        (zeros where padded)."""
        flat = x[0, :, self.first : self.last].transpose(0, 1)  # [tokens, heads, dim]
        out = flat.new_zeros(self.pairs * self.width, *flat.shape[1:]).index_copy(0, self.slots, flat)
        return out.view(self.pairs, self.width, *flat.shape[1:]).transpose(1, 2)

    def tokens(self, out: torch.Tensor) -> torch.Tensor:
        """``[pairs, width, heads, dim]`` back to the group's ``[tokens, heads, dim]``."""
        return out.reshape(self.pairs * self.width, *out.shape[2:]).index_select(0, self.slots)

    def mask(self, causal: bool) -> torch.Tensor:
        if not causal:
            return self.keys
        order = torch.ones(self.width, self.width, dtype=torch.bool, device=self.keys.device).tril()
        return self.keys & order[None, None]


@dataclass
class PackedLayout:
    """Where each pair of a packed row sits, and the groups its attention runs in:
    ``groups`` runs of consecutive pairs, so pairs packed shortest first (as training
    batches are) are padded only to their group's longest pair in attention."""

    starts: torch.Tensor  # [pairs] each pair's first token in the packed row
    ends: torch.Tensor  # [pairs] each pair's last token in the packed row
    within: torch.Tensor  # [tokens] each token's position within its pair
    groups: list[AttentionGroup]

    @classmethod
    def of(cls, lengths: torch.Tensor, groups: int = 1) -> PackedLayout:
        lengths = lengths.long()
        ends = lengths.cumsum(0)
        starts = ends - lengths
        within = torch.arange(int(ends[-1]), device=lengths.device) - starts.repeat_interleave(lengths)
        size = -(-len(lengths) // max(1, groups))
        runs = []
        for i in range(0, len(lengths), size):
            first, last = int(starts[i]), int(ends[min(i + size, len(lengths)) - 1])
            runs.append(AttentionGroup.of(lengths[i : i + size], first, within[first:last]))
        return cls(starts, ends - 1, within, runs)

    def positions(self) -> torch.Tensor:
        """``[1, tokens]``: each token's position within its pair."""
        return self.within[None]


def packed_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """Attention over a packed row: each pair to its own tokens (see the module docstring).
    Returns ``[1, tokens, heads, dim]`` as transformers' attention functions do. Without
    a ``packed_layout`` (a padded batch on the same model), it is SDPA attention."""
    layout: PackedLayout | None = kwargs.pop("packed_layout", None)
    if layout is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    causal = bool(kwargs.pop("is_causal", None) or getattr(module, "is_causal", False))
    outs = []
    for group in layout.groups:
        out, _ = sdpa_attention_forward(
            module,
            group.side_by_side(query),
            group.side_by_side(key),
            group.side_by_side(value),
            group.mask(causal),
            dropout=dropout,
            scaling=scaling,
            is_causal=False,
            **kwargs,
        )  # [pairs, width, heads, dim]
        outs.append(group.tokens(out))
    return torch.cat(outs)[None], None


AttentionInterface.register(PACKED_ATTENTION, packed_attention)
AttentionMaskInterface.register(PACKED_ATTENTION, sdpa_mask)  # the masks of padded batches


def unwrap(model: nn.Module) -> nn.Module:
    """The transformers model inside data-parallel (``.module``) and PEFT wrappers, in
    any nesting."""
    while True:
        if isinstance(getattr(model, "module", None), nn.Module):  # DDP, DataParallel
            model = model.module
        elif hasattr(model, "get_base_model"):  # peft
            model = model.get_base_model()
        else:
            return model


def supports_packing(model: nn.Module) -> bool:
    """Whether ``model`` (wrapped or not) routes its attention through transformers'
    attention interface with SDPA (or packed attention already), so a packed row can be
    run on it."""
    inner = unwrap(model)
    attention = inner.config._attn_implementation
    return bool(getattr(inner, "_supports_attention_backend", False)) and attention in ("sdpa", PACKED_ATTENTION)


def enable_packing(model: nn.Module) -> None:
    """Route ``model``'s attention through :func:`packed_attention` from now on: packed
    batches get their per-pair attention, padded ones SDPA as before. For training,
    where gradient checkpointing recomputes the forward pass later, outside any block."""
    unwrap(model).config._attn_implementation = PACKED_ATTENTION


@contextmanager
def packed_attention_on(model: nn.Module) -> Iterator[None]:
    """Route ``model``'s attention through :func:`packed_attention` inside the block
    (as it was after it)."""
    config = unwrap(model).config
    before = config._attn_implementation
    config._attn_implementation = PACKED_ATTENTION
    try:
        yield
    finally:
        config._attn_implementation = before


def packed_forward(model: nn.Module, batch: dict, layout: PackedLayout, position_offset: int = 0, **kwargs):
    """``model``'s output on the packed ``batch`` (``kwargs``: more model arguments): each
    pair's positions (from ``position_offset``), the layout its attention reads, and an
    all-ones mask (the packed attention ignores it; given, transformers builds no block
    mask of its own)."""
    inputs = {k: v for k, v in batch.items() if k not in LAYOUT_KEYS}
    with packed_attention_on(model):
        return model(
            **inputs,
            position_ids=layout.positions() + position_offset,
            attention_mask=torch.ones_like(inputs["input_ids"]),
            packed_layout=layout,
            **kwargs,
        )


def pack(features: list[dict[str, list[int]]], groups: int = 1) -> dict[str, torch.Tensor]:
    """Unpadded features (one dict of id lists per pair) laid end to end: ``[1, tokens]``
    tensors of each key but ``attention_mask``, ``pair_lengths`` (``[pairs]``) and the
    number of attention groups (see :class:`PackedLayout`)."""
    keys = [k for k in features[0] if k != "attention_mask"]
    batch = {k: torch.tensor([[i for f in features for i in f[k]]], dtype=torch.long) for k in keys}
    batch["pair_lengths"] = torch.tensor([len(f["input_ids"]) for f in features], dtype=torch.long)
    batch["attention_groups"] = torch.tensor(groups, dtype=torch.long)
    return batch


def layout_of(batch: dict) -> PackedLayout:
    return PackedLayout.of(batch["pair_lengths"], int(batch.get("attention_groups", 1)))


#: the keys :func:`pack` adds that are not model inputs
LAYOUT_KEYS = ("pair_lengths", "attention_groups")


def is_packed(batch: dict) -> bool:
    return "pair_lengths" in batch
