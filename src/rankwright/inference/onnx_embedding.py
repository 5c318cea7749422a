"""ONNX Runtime CPU inference for bi-encoders (sentence-embedding models): export of
the whole sentence-transformers module chain, and an encoder that ``DenseEncoder`` and
``BiEncoderReranker`` use in place of ``SentenceTransformer``.

The files sit where sentence-transformers' own ONNX backend looks for them
(``onnx/model.onnx``, ``onnx/model_int8.onnx``). The graph takes the tokenizer's inputs
with dynamic batch and sequence axes and has two outputs: ``last_hidden_state`` (the
token embeddings, the output Optimum's feature-extraction models read) and
``sentence_embedding`` (after the folder's own pooling, dense and normalisation
modules, traced from the torch model, so no pooling is reimplemented here). The export
is checked against ``SentenceTransformer.encode`` on texts of different lengths, longer
ones truncated at the model's ``max_seq_length``; a difference above the tolerance is
an error. int8 is the cross-encoders' dynamic quantisation
(:func:`rankwright.inference.onnx_backend.quantize_int8`).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rankwright.inference.config import DEFAULT_OPSET, Int8Config
from rankwright.inference.onnx_backend import (
    CHECK_PAIRS,
    OnnxExport,
    checked_export,
    eager_attention,
    ignore_checked_trace_warnings,
)
from rankwright.inference.onnx_runtime import OnnxSession, onnx_path

log = logging.getLogger(__name__)

TOKENS, EMBEDDING = "last_hidden_state", "sentence_embedding"
#: Largest |ONNX - torch| embedding component allowed by the export check (unit vectors).
EMBEDDING_TOLERANCE = 1e-5
#: The export check's texts: the check pairs' queries and documents, each once.
CHECK_TEXTS = list(dict.fromkeys(text for pair in CHECK_PAIRS for text in pair))


class _ModuleChain(torch.nn.Module):
    """The sentence-transformers model with positional tensor inputs and its token and
    sentence embeddings as outputs: what the exporter traces."""

    def __init__(self, model: torch.nn.Module, input_names: Sequence[str]):
        super().__init__()
        self.model = model
        self.input_names = list(input_names)

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model(dict(zip(self.input_names, inputs, strict=True)))
        return features["token_embeddings"], features[EMBEDDING]


def _transformer(model: Any) -> Any:
    """The module holding the Hugging Face model (the first one)."""
    first = model[0]
    if not hasattr(first, "auto_model"):
        raise ValueError(
            f"the first module of this sentence-transformers model is a {type(first).__name__}, not a "
            "Transformer: ONNX export needs a text encoder"
        )
    return first


def _export_fp32(model: Any, path: Path, opset: int) -> list[str]:
    import onnx

    transformer = _transformer(model)
    encoded = getattr(model, "preprocess", None) or model.tokenize  # preprocess from sentence-transformers 6
    encoded = encoded(CHECK_TEXTS[:2])
    accepted = ("input_ids", "attention_mask", "token_type_ids")
    names = [k for k in accepted if k in encoded]
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes |= {TOKENS: {0: "batch", 1: "sequence"}, EMBEDDING: {0: "batch"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with eager_attention(transformer.auto_model), torch.no_grad(), warnings.catch_warnings():
        ignore_checked_trace_warnings()
        torch.onnx.export(
            _ModuleChain(model, names).eval(),
            tuple(encoded[n] for n in names),
            str(path),
            input_names=names,
            output_names=[TOKENS, EMBEDDING],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    onnx.checker.check_model(str(path), full_check=True)
    return names


def max_embedding_difference(model: Any, encoder: OnnxSentenceEncoder) -> float:
    """Largest |ONNX - torch| component of the unit-length embeddings of
    :data:`CHECK_TEXTS`, encoded in uneven batches."""
    reference = model.encode(CHECK_TEXTS, batch_size=3, normalize_embeddings=True, convert_to_numpy=True)
    encoder.max_seq_length = model.max_seq_length
    exported = encoder.encode(CHECK_TEXTS, batch_size=3, normalize_embeddings=True)
    return float(np.abs(exported - reference).max())


def export_embedding_onnx(
    folder: str | Path,
    *,
    int8: bool,
    opset: int = DEFAULT_OPSET,
    int8_config: Int8Config | None = None,
    tolerance: float = EMBEDDING_TOLERANCE,
) -> OnnxExport:
    """Export the sentence-transformers model in ``folder`` to ``folder/onnx/model.onnx``
    (and with ``int8`` ``onnx/model_int8.onnx``). The fp32 embeddings must match
    ``SentenceTransformer.encode`` within ``tolerance`` (a RuntimeError otherwise, and
    the file is removed); the int8 model's difference is recorded only."""
    from sentence_transformers import SentenceTransformer

    start = time.perf_counter()
    folder = Path(folder)
    model = SentenceTransformer(str(folder), device="cpu").float().eval()
    return checked_export(
        folder,
        lambda path: _export_fp32(model, path, opset),
        lambda path: max_embedding_difference(model, OnnxSentenceEncoder(folder, path)),
        opset=opset,
        int8=int8,
        int8_config=int8_config,
        tolerance=tolerance,
        started=start,
        compared="embeddings",
        on="check texts",
    )


class OnnxSentenceEncoder(OnnxSession):
    """An ONNX Runtime session with the parts of ``SentenceTransformer`` that
    ``DenseEncoder`` uses: ``encode``, ``max_seq_length``, ``get_embedding_dimension``,
    ``device``, ``eval``/``train``. Texts are tokenised by the folder's tokenizer with
    its ``sentence_bert_config.json`` settings; CPU only."""

    device = torch.device("cpu")

    def __init__(self, folder: str | Path, path: str | Path, *, threads: int | None = None):
        from transformers import AutoTokenizer

        super().__init__(path, threads=threads)
        outputs = {o.name: o for o in self.session.get_outputs()}
        if EMBEDDING not in outputs:
            raise ValueError(
                f"{self.path} has no {EMBEDDING!r} output (it has {sorted(outputs)}): it was not written by "
                "rankwright's bi-encoder export; write it with `rankwright export --onnx true`"
            )
        self.dimension = int(outputs[EMBEDDING].shape[-1])
        settings = _sentence_bert_config(Path(folder))
        self.lower_case = bool(settings.get("do_lower_case", False))
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.max_seq_length = settings.get("max_seq_length") or self.tokenizer.model_max_length

    @classmethod
    def from_pretrained(cls, folder: str | Path, backend: str, *, threads: int | None = None) -> OnnxSentenceEncoder:
        """The fp32 (``onnx``) or int8 (``onnx-int8``) ONNX model of a bi-encoder folder."""
        return cls(folder, onnx_path(folder, backend), threads=threads)

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool = False,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        """Embeddings of ``texts`` in input order (batched longest first, as
        sentence-transformers does, so padding stays short)."""
        from tqdm.auto import tqdm

        texts = [t.lower() for t in texts] if self.lower_case else list(texts)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        for start in tqdm(starts, desc="ONNX embeddings", disable=not show_progress_bar):
            rows = order[start : start + batch_size]
            encoded = self.tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="np",
            )
            feeds = {name: encoded[name].astype(np.int64, copy=False) for name in self.input_names if name in encoded}
            if "token_type_ids" in self.input_names and "token_type_ids" not in feeds:
                feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
            (embeddings,) = self.session.run([EMBEDDING], feeds)
            out[rows] = embeddings
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def get_embedding_dimension(self) -> int:
        return self.dimension


def _sentence_bert_config(folder: Path) -> dict[str, Any]:
    path = folder / "sentence_bert_config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
