"""Cross-encoders: an encoder with a sequence-classification head scores the pair
``[CLS] query [SEP] document [SEP]``. The document is truncated first; the query only
when it alone does not fit."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)


class CrossEncoderHead:
    """Turns (query, document) pairs into model inputs and model outputs into scores."""

    model_type = "cross-encoder"

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int, num_labels: int = 1):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.num_labels = num_labels

    def encode(self, queries: Sequence[str], docs: Sequence[str]) -> list[dict[str, list[int]]]:
        """Token ids per pair, unpadded, at most ``max_length`` long."""
        queries, docs = list(queries), list(docs)
        long_query = self._queries_without_room(queries)
        fits = [i for i in range(len(queries)) if not long_query[i]]
        features: list[dict[str, list[int]]] = [{}] * len(queries)
        for rows, truncation in ((fits, "only_second"), ([i for i in range(len(queries)) if long_query[i]], None)):
            if not rows:
                continue
            if truncation is None:
                # The query alone leaves no room for the document: only then is it truncated too.
                log.warning(
                    "%d queries are too long for max_length=%d with a document; truncating them too",
                    len(rows),
                    self.max_length,
                )
            enc = self.tokenizer(
                [queries[i] for i in rows],
                [docs[i] for i in rows],
                truncation=truncation or "longest_first",
                max_length=self.max_length,
                padding=False,
            )
            keys = [k for k in enc if k != "overflow_to_sample_mapping"]
            for j, i in enumerate(rows):
                features[i] = {k: enc[k][j] for k in keys}
        return features

    def _queries_without_room(self, queries: list[str]) -> list[bool]:
        """Per pair: whether its query and the special tokens alone fill ``max_length``
        (truncating only the document cannot fit it; the tokenizer refuses to try)."""
        unique = list(dict.fromkeys(queries))
        lengths = self.tokenizer(unique, add_special_tokens=False, padding=False)["input_ids"]
        room = self.max_length - self.tokenizer.num_special_tokens_to_add(pair=True)
        too_long = {q for q, ids in zip(unique, lengths, strict=True) if len(ids) >= room}
        return [q in too_long for q in queries]

    def pad(self, features: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        return self.tokenizer.pad(features, padding=True, return_tensors="pt")

    def scores(self, model: PreTrainedModel, batch: dict[str, Any]) -> torch.Tensor:
        """``[N]`` raw scores for one output, ``[N, C]`` logits for classes."""
        logits = model(**batch).logits
        return logits.squeeze(-1) if self.num_labels == 1 else logits
