"""``Reranker``: load a model folder, score pairs, rank documents.

This is the project's one batching path: pairs are tokenised once, sorted by length,
cut into batches, padded per batch, scored under ``torch.inference_mode`` and put
back in input order. Training-time validation uses it too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel

from rankwright.evaluation.calibration import apply_calibration
from rankwright.inference.fusion import MODEL_KEYS, fuse, missing_message, required_components, validate_fusion
from rankwright.models.cross_encoder import CrossEncoderHead
from rankwright.models.generative import GenerativeHead, causal_lm_of
from rankwright.models.loading import (
    build_head,
    from_pretrained_quietly,
    load_adapter_model,
    load_causal_lm,
    load_tokenizer,
    log_loading,
    model_type_of,
    prompt_metadata,
    resolve_model_path,
)
from rankwright.models.metadata import ModelMetadata
from rankwright.models.prompts import PromptConfig, build_prompt

log = logging.getLogger(__name__)

#: Default batching of ``Reranker.logits``: at most this many pairs a batch, and at most
#: this many padded tokens (pairs x the batch's longest pair). Measured on 4,000 Home
#: Depot pairs with MiniLM-L6 on 2 CPU cores (bench/inference.py): 318 pairs/s, against
#: 272 with batches of 64 pairs and 197 for sentence-transformers' predict. On a GPU a
#: larger ``max_tokens`` fills the device better.
BATCH_PAIRS = 256
BATCH_TOKENS = 4096


@dataclass(frozen=True)
class RankedDocument:
    """One document of a ranking: its position in the input, its score, and the input."""

    index: int
    score: float
    document: str | dict[str, Any]


def _class_gains(metadata: ModelMetadata) -> np.ndarray:
    gains = metadata.labels.get("class_gains") or {}
    return np.array([gains[c] for c in metadata.classes], dtype=float)


def _load_model(path: str, metadata: ModelMetadata, backend: str, model_kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """The model (torch, with its LoRA adapters, or an ONNX session) and tokenizer of a folder."""
    tokenizer = None
    if backend != "torch":
        from rankwright.inference.onnx_runtime import load_onnx_model  # onnxruntime only when asked for

        model = load_onnx_model(path, metadata, backend, **model_kwargs)
    elif metadata.adapter:
        model = load_adapter_model(path, metadata, **model_kwargs)
    elif metadata.model_type == "generative":
        model, tokenizer = load_causal_lm(path, **model_kwargs)
    else:
        model = _sequence_classifier(path, **model_kwargs)
    return model, tokenizer or load_tokenizer(path)


class Reranker:
    """A trained (or any) model with its head and metadata, ready to score.

    ``score`` returns, per pair: for one-output cross-encoders the raw logit; for yes/no
    generative models P(yes), the softmax of the two label logits (``logits`` gives
    their difference); for class models the expected gain of the class probabilities.
    ``probabilities=True`` gives the sigmoid (one output) or the ``[N, C]`` class
    probabilities.

    Fused models (``fusion`` in ``rankwright.json``, fitted by ``rankwright fuse``):
    ``score`` and ``rank`` return the fused score, a weighted sum of the per-query
    normalised model score and the first-stage scores passed as
    ``first_stage_scores`` and/or the cosine of the stored dense model (see
    ``rankwright.inference.fusion``); a fused model called without the scores it
    needs raises a ValueError. ``fused=False`` gives the model's own score;
    ``logits`` are always raw.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        head: CrossEncoderHead | GenerativeHead,
        metadata: ModelMetadata,
        device: str | None = None,
    ):
        self.model = model
        self.head = head
        self.metadata = metadata
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)
        self.model.eval()
        if metadata.fusion:
            validate_fusion(metadata.fusion)
        self._dense_encoder = None
        self._biencoder: Reranker | None = None

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        device: str | None = None,
        *,
        prompt: PromptConfig | None = None,
        max_length: int | None = None,
        backend: str = "torch",
        **model_kwargs: Any,
    ) -> Reranker:
        """Load a rankwright model folder, or a plain Hugging Face model: a
        sequence-classification model is scored by its single logit, a causal LM (e.g.
        Qwen3-Reranker, or a ``.gguf`` file) as a yes/no reranker with ``prompt``
        (default: chosen from its tokenizer, see ``rankwright.models.prompts``).
        ``max_length`` overrides the tokens per pair (default: as trained; for a plain
        model the tokenizer's and the model's limit, at most 512 for encoders and 8192
        for LMs).

        ``backend``: ``torch`` (default), or for cross-encoders and bi-encoders ONNX
        Runtime on CPU: ``onnx`` (the folder's ``onnx/model.onnx``, fp32, the torch
        scores within 1e-5) or ``onnx-int8`` (``onnx/model_int8.onnx``, dynamic int8,
        about 2x faster); both are written by ``rankwright export --onnx true [--int8
        true]``. With an ONNX backend ``model_kwargs`` go to ``OnnxSequenceClassifier``
        or ``OnnxSentenceEncoder`` (``threads``: ONNX Runtime's intra-op threads,
        default torch's); scores, ranks and metadata work as with torch."""
        path = resolve_model_path(str(path))
        if ModelMetadata.exists(path):
            metadata = ModelMetadata.load(path)
        else:
            metadata = ModelMetadata(model_type=model_type_of(path), base_model=path)
        if metadata.model_type == "bi-encoder":
            return _bi_encoder(path, metadata, device, backend, max_length, model_kwargs)
        generative = metadata.model_type == "generative"
        model, tokenizer = _load_model(path, metadata, backend, model_kwargs)
        if backend != "torch":
            device = device or "cpu"
        if max_length is not None:
            metadata.max_length = max_length
        if not ModelMetadata.exists(path):
            if max_length is None:
                positions = getattr(causal_lm_of(model).config, "max_position_embeddings", None) or 8192
                metadata.max_length = min(
                    int(tokenizer.model_max_length or 512), positions, 8192 if generative else 512
                )
            if generative:
                head = GenerativeHead(tokenizer, build_prompt(prompt or PromptConfig(), tokenizer), metadata.max_length)
                metadata.prompt = prompt_metadata(head)
                metadata.score = "probability"
                return cls(model, head, metadata, device)
            metadata.num_labels = model.config.num_labels
        return cls(model, build_head(metadata, tokenizer), metadata, device)

    # -- the batching path -----------------------------------------------------------------

    def logits(
        self,
        queries: str | Sequence[str],
        docs: Sequence[str],
        *,
        batch_size: int = BATCH_PAIRS,
        max_tokens: int | None = BATCH_TOKENS,
        progress: bool | None = None,
    ) -> np.ndarray:
        """Raw model outputs in input order: ``[N]`` (one output) or ``[N, C]``.

        Pairs are scored longest first, at most ``batch_size`` a batch; ``max_tokens``
        (None: no budget) also caps a batch's padded size (pairs x its longest pair), so
        batches of short pairs hold more of them and a batch of long ones cannot blow up
        memory (see ``BATCH_TOKENS``)."""
        queries, docs = pair_lists(queries, docs)
        features = self.head.encode(queries, docs) if docs else []
        return self.logits_of_features(features, batch_size=batch_size, max_tokens=max_tokens, progress=progress)

    def logits_of_features(
        self,
        features: list[dict[str, list[int]]],
        *,
        batch_size: int = BATCH_PAIRS,
        max_tokens: int | None = BATCH_TOKENS,
        progress: bool | None = None,
        skip: Callable[[int], bool] | None = None,
    ) -> np.ndarray:
        """``logits`` of pairs already tokenised by ``self.head.encode`` (for callers
        that also need the token counts, such as the server's usage report).
        ``skip(i)``, asked for each pair when its forward batch comes, drops pairs nobody
        waits for any more (the server's abandoned requests): their rows are NaN."""
        if not features:
            return np.zeros((0,) if self.metadata.num_labels == 1 else (0, self.metadata.num_labels), dtype=np.float32)
        lengths = np.array([len(f["input_ids"]) for f in features])
        order = np.argsort(-lengths, kind="stable")
        row = () if self.metadata.num_labels == 1 else (self.metadata.num_labels,)
        out: list[np.ndarray] = [np.full(row, np.nan, dtype=np.float32)] * len(order)
        show = progress if progress is not None else len(features) > 10 * batch_size
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for idx in tqdm(
                _batches(order, lengths, batch_size, max_tokens), desc="scoring", unit="batch", disable=not show
            ):
                if skip is not None:
                    idx = [i for i in idx if not skip(int(i))]
                    if not idx:
                        continue
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
        batch_size: int = BATCH_PAIRS,
        max_tokens: int | None = BATCH_TOKENS,
        probabilities: bool = False,
        calibrated: bool = False,
        progress: bool | None = None,
        first_stage_scores: Sequence[float] | np.ndarray | None = None,
        fused: bool | None = None,
    ) -> np.ndarray:
        """One score per pair (see the class docstring). ``calibrated=True`` gives
        P(relevant) through the calibration fitted by ``rankwright calibrate``.

        ``fused: bool`` (default: whether the model has a ``fusion``): the fused score
        (queries are the per-query normalisation groups), for which
        ``first_stage_scores`` (one per pair) are required when the fusion weights
        them; ``fused=False`` gives the model's own score. Probabilities (plain or
        calibrated) are never fused."""
        use_fusion = self._use_fusion(fused, probabilities or calibrated, first_stage_scores)
        if use_fusion:
            self.check_fusion_inputs(first_stage_scores is not None)
        logits = self.logits(queries, docs, batch_size=batch_size, max_tokens=max_tokens, progress=progress)
        if calibrated:
            return self.calibrated_from_logits(logits)
        if use_fusion:
            queries = [queries] * len(logits) if isinstance(queries, str) else list(queries)
            return self.fused_from_logits(logits, queries, list(docs), first_stage_scores, progress=bool(progress))
        return self.scores_from_logits(logits, probabilities=probabilities)

    # -- score fusion ----------------------------------------------------------------------

    def _use_fusion(self, fused: bool | None, probability: bool, first_stage_scores: Any) -> bool:
        fusion = self.metadata.fusion
        if fused and not fusion:
            raise ValueError("this model has no score fusion: fit one with `rankwright fuse` first")
        if fused and probability:
            raise ValueError("probabilities are the model's own; a fused score is not a probability")
        if fused is None:
            fused = bool(fusion) and not probability
        if not fusion and first_stage_scores is not None:
            log.warning("first_stage_scores are ignored: this model has no score fusion (`rankwright fuse`)")
        return bool(fused)

    def check_fusion_inputs(self, has_first_stage: bool) -> None:
        """Raise the fusion's ValueError early (before scoring) when it weights
        first-stage scores and none are given, or a dense score and names no model."""
        fusion = self.metadata.fusion or {}
        needed = required_components(fusion)
        if "first_stage" in needed and not has_first_stage:
            raise ValueError(missing_message(fusion, "first_stage"))
        for name, key in MODEL_KEYS.items():
            if name in needed and not fusion.get(key):
                raise ValueError(missing_message(fusion, name))

    def dense_scores(self, queries: Sequence[str], docs: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Cosine of each (query, document) under the fusion's ``dense_model``, loaded
        once (on first use) and kept on this instance."""
        fusion = self.metadata.fusion or {}
        if not fusion.get("dense_model"):
            raise ValueError("this model's fusion names no dense_model (a sentence-embedding model) for dense scores")
        if self._dense_encoder is None:
            from rankwright.retrieval.dense import DenseConfig, DenseEncoder

            self._dense_encoder = DenseEncoder(DenseConfig(model=fusion["dense_model"]))
        return self._dense_encoder.cosine(list(queries), list(docs), progress=progress)

    def biencoder_scores(self, queries: Sequence[str], docs: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Cosine of each (query, document) under the fusion's fine-tuned bi-encoder
        (``biencoder_model``), loaded once (on first use) and kept on this instance."""
        fusion = self.metadata.fusion or {}
        if not fusion.get("biencoder_model"):
            raise ValueError(missing_message(fusion, "biencoder"))
        if self._biencoder is None:
            self._biencoder = Reranker.from_pretrained(fusion["biencoder_model"], device=str(self.device))
        return self._biencoder.score(list(queries), list(docs), progress=progress, fused=False)

    def fused_from_logits(
        self,
        logits: np.ndarray,
        queries: Sequence[str],
        docs: Sequence[str],
        first_stage_scores: Sequence[float] | np.ndarray | None = None,
        *,
        query_ids: Sequence[Any] | None = None,
        dense_scores: np.ndarray | None = None,
        progress: bool = False,
    ) -> np.ndarray:
        """The fused score of each pair from the model's ``logits``; normalised per
        ``query_ids`` (default: per query text). ``dense_scores``: the pairs' cosines
        under the fusion's dense model when the caller has them (else computed here)."""
        fusion = self.metadata.fusion
        if not fusion:
            raise ValueError("this model has no score fusion: fit one with `rankwright fuse` first")
        self.check_fusion_inputs(first_stage_scores is not None)
        components: dict[str, Any] = {"reranker": self.scores_from_logits(logits)}
        if first_stage_scores is not None:
            first = np.asarray(first_stage_scores, dtype=np.float64)
            if first.shape != (len(logits),):
                raise ValueError(f"{first.size} first_stage_scores for {len(logits)} documents; give one per document")
            components["first_stage"] = first
        if "dense" in required_components(fusion):
            if dense_scores is None:
                dense_scores = self.dense_scores(queries, docs, progress=progress)
            components["dense"] = dense_scores
        if "biencoder" in required_components(fusion):
            components["biencoder"] = self.biencoder_scores(queries, docs, progress=progress)
        return fuse(components, list(query_ids if query_ids is not None else queries), fusion)

    def raw_scalar(self, logits: np.ndarray) -> np.ndarray:
        """The scalar a calibration maps: the logit (yes - no for generative models), or
        a class model's expected gain."""
        return logits if self.metadata.num_labels == 1 else self.scores_from_logits(logits)

    def calibrated_from_logits(self, logits: np.ndarray) -> np.ndarray:
        if not self.metadata.calibration:
            raise ValueError("this model has no calibration: run `rankwright calibrate` on validation data first")
        return apply_calibration(self.metadata.calibration, self.raw_scalar(logits))

    def scores_from_logits(self, logits: np.ndarray, probabilities: bool = False) -> np.ndarray:
        if self.metadata.num_labels == 1:
            if probabilities or self.metadata.score == "probability":
                # float64: a float32 sigmoid saturates (and ties) from a logit of about 17.
                return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
            return logits
        probs = torch.softmax(torch.from_numpy(logits).double(), dim=-1).numpy()
        if probabilities:
            return probs
        gains = _class_gains(self.metadata)
        return probs @ gains / gains.max()

    def classes_from_logits(self, logits: np.ndarray) -> list[str]:
        return [self.metadata.classes[i] for i in logits.argmax(-1)]

    def predict_classes(self, queries: str | Sequence[str], docs: Sequence[str], **kwargs: Any) -> list[str]:
        return self.classes_from_logits(self.logits(queries, docs, **kwargs))

    def rank(
        self,
        query: str,
        docs: Sequence[str | dict[str, Any]],
        top_k: int | None = None,
        *,
        batch_size: int = BATCH_PAIRS,
        max_tokens: int | None = BATCH_TOKENS,
        first_stage_scores: Sequence[float] | np.ndarray | None = None,
        fused: bool | None = None,
    ) -> list[RankedDocument]:
        """Documents (strings, or dicts with a ``text`` key) sorted by score, best first.

        ``fused: bool`` (default: whether the model has a ``fusion``): rank by the fused
        score, with ``first_stage_scores`` (one per document, e.g. the BM25 scores the
        candidates came with) when the fusion weights them; a fused model raises a
        ValueError without them instead of ranking by its own score alone."""
        texts = [d["text"] if isinstance(d, dict) else d for d in docs]
        scores = self.score(
            query,
            texts,
            batch_size=batch_size,
            max_tokens=max_tokens,
            first_stage_scores=first_stage_scores,
            fused=fused,
        )
        order = np.argsort(-scores, kind="stable")[: top_k or len(docs)]
        return [RankedDocument(int(i), float(scores[i]), docs[i]) for i in order]


def pair_lists(queries: str | Sequence[str], docs: Sequence[str]) -> tuple[list[str], list[str]]:
    """One query per document (a single query string is repeated), checked to match."""
    docs = list(docs)
    queries = [queries] * len(docs) if isinstance(queries, str) else list(queries)
    if len(queries) != len(docs):
        raise ValueError(f"{len(queries)} queries but {len(docs)} documents")
    return queries, docs


def _batches(order: np.ndarray, lengths: np.ndarray, batch_size: int, max_tokens: int | None) -> list[np.ndarray]:
    """Cut ``order`` (longest pair first) into batches of at most ``batch_size`` pairs
    and, with ``max_tokens``, at most that many padded tokens (a batch pads to its
    first, longest pair); a single pair longer than the budget is a batch of its own."""
    if batch_size < 1 or (max_tokens is not None and max_tokens < 1):
        raise ValueError(f"batch_size and max_tokens must be positive, got {batch_size} and {max_tokens}")
    batches, start = [], 0
    while start < len(order):
        size = batch_size
        if max_tokens is not None:
            size = min(size, max(1, max_tokens // int(lengths[order[start]])))
        batches.append(order[start : start + size])
        start += size
    return batches


def _bi_encoder(
    path: str,
    metadata: ModelMetadata,
    device: str | None,
    backend: str,
    max_length: int | None,
    model_kwargs: dict[str, Any],
):
    from rankwright.inference.bi_encoder import BiEncoderReranker  # sentence-transformers only when needed

    if max_length is not None:
        metadata.max_length = max_length
    return BiEncoderReranker.load(path, metadata, device, backend, **model_kwargs)


def _sequence_classifier(path: str, **kwargs):
    """A cross-encoder; a bare encoder (no ``*ForSequenceClassification`` head in its
    config) gets a fresh one-output head, with a warning: its scores mean nothing yet."""
    config = AutoConfig.from_pretrained(path)
    if any(a.endswith("ForSequenceClassification") for a in config.architectures or []):
        model, info = from_pretrained_quietly(AutoModelForSequenceClassification, path, **kwargs)
        new_head = log_loading(path, model, info)
        if new_head:
            log.warning("%s: the checkpoint lacks its score head's weights (%s): they are random", path, new_head)
        return model
    log.warning(
        "%s has no trained score head (architectures %s): a new, random one is used", path, config.architectures
    )
    model, info = from_pretrained_quietly(AutoModelForSequenceClassification, path, num_labels=1, **kwargs)
    log_loading(path, model, info)
    return model
