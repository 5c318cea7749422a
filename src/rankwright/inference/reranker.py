"""``Reranker``: load a model folder, score pairs, rank documents.

This is the project's one batching path: pairs are tokenised once, sorted by length,
cut into batches, padded per batch, scored under ``torch.inference_mode`` and put
back in input order. Training-time validation uses it too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel

from rankwright.models.cross_encoder import CrossEncoderHead
from rankwright.models.loading import load_adapter_classifier, resolve_model_path
from rankwright.models.metadata import ModelMetadata

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RankedDocument:
    """One document of a ranking: its position in the input, its score, and the input."""

    index: int
    score: float
    document: str | dict[str, Any]


def _class_gains(metadata: ModelMetadata) -> np.ndarray:
    gains = metadata.labels.get("class_gains") or {}
    return np.array([gains[c] for c in metadata.classes], dtype=float)


class Reranker:
    """A trained (or any) model with its head and metadata, ready to score.

    ``score`` returns raw scores (logits) by default: for one-output models the logit,
    for class models the expected gain of the class probabilities (that is already a
    probability-scale number). ``probabilities=True`` applies the sigmoid (one output)
    or returns the class probabilities.
    """

    def __init__(
        self, model: PreTrainedModel, head: CrossEncoderHead, metadata: ModelMetadata, device: str | None = None
    ):
        self.model = model
        self.head = head
        self.metadata = metadata
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)
        self.model.eval()

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | None = None, **model_kwargs: Any) -> Reranker:
        """Load a rankwright model folder (or a plain Hugging Face sequence-classification
        model, scored by its single logit)."""
        path = str(path)
        if ModelMetadata.exists(path):
            metadata = ModelMetadata.load(path)
        else:
            metadata = ModelMetadata(model_type="cross-encoder", base_model=path)
        if metadata.model_type != "cross-encoder":
            raise NotImplementedError(f"{path}: model_type {metadata.model_type!r} is not supported yet")
        if metadata.adapter:
            model = load_adapter_classifier(path, metadata, **model_kwargs)
        else:
            model = AutoModelForSequenceClassification.from_pretrained(resolve_model_path(path), **model_kwargs)
        tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(path))
        if not ModelMetadata.exists(path):
            metadata.num_labels = model.config.num_labels
            metadata.max_length = min(int(tokenizer.model_max_length or 512), 512)
        head = CrossEncoderHead(tokenizer, metadata.max_length, metadata.num_labels)
        return cls(model, head, metadata, device)

    # -- the batching path -----------------------------------------------------------------

    def logits(
        self,
        queries: str | Sequence[str],
        docs: Sequence[str],
        *,
        batch_size: int = 64,
        progress: bool | None = None,
    ) -> np.ndarray:
        """Raw model outputs in input order: ``[N]`` (one output) or ``[N, C]``."""
        docs = list(docs)
        queries = [queries] * len(docs) if isinstance(queries, str) else list(queries)
        if len(queries) != len(docs):
            raise ValueError(f"{len(queries)} queries but {len(docs)} documents")
        if not docs:
            return np.zeros((0,) if self.metadata.num_labels == 1 else (0, self.metadata.num_labels), dtype=np.float32)
        features = self.head.encode(queries, docs)
        order = np.argsort([-len(f["input_ids"]) for f in features], kind="stable")
        out: list[np.ndarray] = [None] * len(order)  # type: ignore[list-item]
        show = progress if progress is not None else len(docs) > 10 * batch_size
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for start in tqdm(range(0, len(order), batch_size), desc="scoring", unit="batch", disable=not show):
                idx = order[start : start + batch_size]
                batch = {k: v.to(self.device) for k, v in self.head.pad([features[i] for i in idx]).items()}
                scores = self.head.scores(self.model, batch).float().cpu().numpy()
                for j, i in enumerate(idx):
                    out[i] = scores[j]
        if was_training:
            self.model.train()
        return np.stack(out)

    def score(
        self,
        queries: str | Sequence[str],
        docs: Sequence[str],
        *,
        batch_size: int = 64,
        probabilities: bool = False,
        progress: bool | None = None,
    ) -> np.ndarray:
        """One score per pair: the raw logit by default (``probabilities=True``: the
        sigmoid of it). Class models return the expected gain of their class
        probabilities (``probabilities=True``: the ``[N, C]`` probabilities)."""
        logits = self.logits(queries, docs, batch_size=batch_size, progress=progress)
        if self.metadata.num_labels == 1:
            return 1.0 / (1.0 + np.exp(-logits)) if probabilities else logits
        probs = torch.softmax(torch.from_numpy(logits).float(), dim=-1).numpy()
        if probabilities:
            return probs
        gains = _class_gains(self.metadata)
        return probs @ gains / gains.max()

    def predict_classes(self, queries: str | Sequence[str], docs: Sequence[str], **kwargs: Any) -> list[str]:
        logits = self.logits(queries, docs, **kwargs)
        return [self.metadata.classes[i] for i in logits.argmax(-1)]

    def rank(
        self,
        query: str,
        docs: Sequence[str | dict[str, Any]],
        top_k: int | None = None,
        *,
        batch_size: int = 64,
    ) -> list[RankedDocument]:
        """Documents (strings, or dicts with a ``text`` key) sorted by score, best first."""
        texts = [d["text"] if isinstance(d, dict) else d for d in docs]
        scores = self.score(query, texts, batch_size=batch_size)
        order = np.argsort(-scores, kind="stable")[: top_k or len(docs)]
        return [RankedDocument(int(i), float(scores[i]), docs[i]) for i in order]
