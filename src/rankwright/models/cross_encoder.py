"""Cross-encoders: an encoder with a sequence-classification head scores the pair
``[CLS] query [SEP] document [SEP]``. The document is truncated first; the query only
when it alone leaves no room, and then to at most half of it when the document is long
(see :mod:`rankwright.models.truncation`: no overflow fragments are ever made)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from rankwright.models.packing import is_packed, layout_of, packed_forward, supports_packing, unwrap
from rankwright.models.truncation import pair_budget, precut, warn_cut, was_precut

Features = dict[str, list[int]]


class CrossEncoderHead:
    """Turns (query, document) pairs into model inputs and model outputs into scores."""

    model_type = "cross-encoder"

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int, num_labels: int = 1):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.num_labels = num_labels

    @property
    def room(self) -> int:
        """Query and document tokens a pair can hold."""
        return self.max_length - self.tokenizer.num_special_tokens_to_add(pair=True)

    def encode(self, queries: Sequence[str], docs: Sequence[str]) -> list[Features]:
        """Token ids per pair, unpadded, at most ``max_length`` long: one feature per pair,
        from one tokenizer call without truncation (ids are cut here)."""
        queries, docs = list(queries), list(docs)
        room = self.room
        cut_queries = [precut(q, self.max_length) for q in queries]
        cut_docs = [precut(d, self.max_length) for d in docs]
        encoded = self._encode(cut_queries, cut_docs, room)
        # A precut text with fewer tokens than the room may have lost tokens the pair had room for.
        again = [
            i
            for i, (_, q_tokens, d_tokens) in enumerate(encoded)
            if (was_precut(queries[i], cut_queries[i]) and q_tokens < room)
            or (was_precut(docs[i], cut_docs[i]) and d_tokens < room)
        ]
        if again:
            redone = self._encode([queries[i] for i in again], [docs[i] for i in again], room)
            for i, row in zip(again, redone, strict=True):
                encoded[i] = row
        long_queries = sum(q_tokens >= room for _, q_tokens, _ in encoded)
        warn_cut(
            "%d queries leave no room for a document in max_length=%d; they are cut (to half the room at most "
            "when the document is long)",
            long_queries,
            self.max_length,
        )
        return [features for features, _, _ in encoded]

    def _encode(self, queries: list[str], docs: list[str], room: int) -> list[tuple[Features, int, int]]:
        """Per pair: its features cut to the room, and its query and document token counts."""
        if not queries:
            return []
        if not getattr(self.tokenizer, "is_fast", False):
            return [self._encode_slow(q, d, room) for q, d in zip(queries, docs, strict=True)]
        enc = self.tokenizer(queries, docs, truncation=False, padding=False, verbose=False)
        keys = list(enc.keys())
        out = []
        for j in range(len(queries)):
            sequence = enc.sequence_ids(j)
            q_tokens, d_tokens = sequence.count(0), sequence.count(1)
            keep = pair_budget(q_tokens, d_tokens, room)
            if keep == (q_tokens, d_tokens):
                out.append(({k: enc[k][j] for k in keys}, q_tokens, d_tokens))
                continue
            positions, seen = [], [0, 0]
            for p, s in enumerate(sequence):
                if s is None:
                    positions.append(p)
                elif seen[s] < keep[s]:
                    positions.append(p)
                    seen[s] += 1
            out.append(({k: [enc[k][j][p] for p in positions] for k in keys}, q_tokens, d_tokens))
        return out

    def _encode_slow(self, query: str, doc: str, room: int) -> tuple[Features, int, int]:
        """A tokenizer without offsets (not a fast one): the two texts apart, cut, joined."""
        q_ids = self.tokenizer(query, add_special_tokens=False, verbose=False)["input_ids"]
        d_ids = self.tokenizer(doc, add_special_tokens=False, verbose=False)["input_ids"]
        q_keep, d_keep = pair_budget(len(q_ids), len(d_ids), room)
        enc = self.tokenizer.prepare_for_model(q_ids[:q_keep], d_ids[:d_keep], truncation=False, verbose=False)
        return {k: list(v) for k, v in enc.items()}, len(q_ids), len(d_ids)

    def pad(self, features: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        return self.tokenizer.pad(features, padding=True, return_tensors="pt")

    def can_pack(self, model: PreTrainedModel) -> bool:
        return supports_packing(model) and _encoder(model) is not None

    def scores(self, model: PreTrainedModel, batch: dict[str, Any]) -> torch.Tensor:
        """``[N]`` raw scores for one output, ``[N, C]`` logits for classes."""
        logits = _packed_logits(model, batch) if is_packed(batch) else model(**batch).logits
        return logits.squeeze(-1) if self.num_labels == 1 else logits


def _encoder(model: PreTrainedModel) -> torch.nn.Module | None:
    return getattr(unwrap(model).base_model, "encoder", None)


def _packed_logits(model: PreTrainedModel, batch: dict[str, Any]) -> torch.Tensor:
    """Logits of a packed batch: the encoder's output is cut down to each pair's first
    token, which is all a sequence-classification head reads (``[:, 0]``)."""
    layout = layout_of(batch)
    embeddings = unwrap(model).base_model.embeddings
    # RoBERTa-style embeddings count positions from the padding id + 1.
    offset = embeddings.padding_idx + 1 if hasattr(embeddings, "create_position_ids_from_input_ids") else 0

    def first_tokens(module, args, output):
        output.last_hidden_state = output.last_hidden_state[0, layout.starts][:, None]
        return output

    handle = _encoder(model).register_forward_hook(first_tokens)
    try:
        return packed_forward(model, batch, layout, position_offset=offset).logits
    finally:
        handle.remove()
