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
        enc = self.tokenizer(
            list(queries), list(docs), truncation="only_second", max_length=self.max_length, padding=False
        )
        keys = [k for k in enc if k != "overflow_to_sample_mapping"]
        features = [{k: enc[k][i] for k in keys} for i in range(len(queries))]
        too_long = [i for i, f in enumerate(features) if len(f["input_ids"]) > self.max_length]
        if too_long:
            # The query alone does not fit: only then is it truncated too.
            log.warning("%d queries are longer than max_length=%d; truncating them too", len(too_long), self.max_length)
            redo = self.tokenizer(
                [queries[i] for i in too_long],
                [docs[i] for i in too_long],
                truncation="longest_first",
                max_length=self.max_length,
                padding=False,
            )
            for j, i in enumerate(too_long):
                features[i] = {k: redo[k][j] for k in keys}
        return features

    def pad(self, features: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        return self.tokenizer.pad(features, padding=True, return_tensors="pt")

    def scores(self, model: PreTrainedModel, batch: dict[str, Any]) -> torch.Tensor:
        """``[N]`` raw scores for one output, ``[N, C]`` logits for classes."""
        logits = model(**batch).logits
        return logits.squeeze(-1) if self.num_labels == 1 else logits
