"""ONNX Runtime CPU inference: the session every ONNX model here is built on, a
stand-in for a cross-encoder's torch model that ``Reranker`` scores through unchanged,
the loader of a folder's ONNX model (a bi-encoder's encoder is in
:mod:`rankwright.inference.onnx_embedding`), and where a model folder keeps its ONNX files
(``onnx/model.onnx`` fp32, ``onnx/model_int8.onnx`` dynamic int8, where
sentence-transformers and Optimum put them). Export and quantisation are in
:mod:`rankwright.inference.onnx_backend`, which re-exports these names."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from transformers import AutoConfig, PretrainedConfig
from transformers.modeling_outputs import SequenceClassifierOutput

if TYPE_CHECKING:
    from rankwright.models.metadata import ModelMetadata

ONNX_DIR = "onnx"
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model_int8.onnx"}
BACKENDS = ("torch", *ONNX_FILES)
OUTPUT = "logits"


def check_cpu(device: str | torch.device | None) -> None:
    """The ONNX backends run on CPU: another device is an error (``None``: the default, CPU)."""
    if device is not None and torch.device(device).type != "cpu":
        raise ValueError(
            f"the ONNX backend runs on CPU (ONNX Runtime's CPUExecutionProvider), not {device}; "
            "use backend='torch' for a GPU"
        )


class OnnxSession:
    """An ONNX Runtime CPU session of one file (ONNX Runtime's full graph optimisation,
    ``threads`` intra-op threads, default torch's), frozen like a torch model in eval
    mode: ``eval()`` is a no-op and ``train()`` an error."""

    training = False

    def __init__(self, path: str | Path, *, threads: int | None = None):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {self.path}")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.log_severity_level = 3  # errors only: ORT warns about every unused initializer
        self.threads = options.intra_op_num_threads
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def to(self, device: str | torch.device) -> OnnxSession:
        check_cpu(device)
        return self

    def eval(self) -> OnnxSession:
        return self

    def train(self, mode: bool = True) -> OnnxSession:
        if mode:
            raise RuntimeError("an ONNX model cannot be trained; train the torch model and export it again")
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path}, threads={self.threads})"


class OnnxSequenceClassifier(OnnxSession):
    """An ONNX Runtime session that behaves like a transformers sequence classifier
    where ``Reranker`` needs it: ``model(**batch).logits`` (torch tensors in and out),
    ``.to(device)``, ``.eval()``, ``.training`` and ``.config``. CPU only."""

    def __init__(self, path: str | Path, config: PretrainedConfig, *, threads: int | None = None):
        super().__init__(path, threads=threads)
        self.config = config

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, *, quantized: bool = False, threads: int | None = None
    ) -> OnnxSequenceClassifier:
        """The fp32 (or ``quantized`` int8) ONNX model of a model folder."""
        path = onnx_path(folder, "onnx-int8" if quantized else "onnx")
        return cls(path, AutoConfig.from_pretrained(folder), threads=threads)

    def __call__(self, **batch: torch.Tensor) -> SequenceClassifierOutput:
        feeds = {}
        for name in self.input_names:
            if name in batch:
                feeds[name] = batch[name].detach().cpu().numpy().astype(np.int64, copy=False)
            elif name == "token_type_ids":  # one segment, as transformers assumes without them
                feeds[name] = np.zeros_like(feeds.get("input_ids", batch["input_ids"].cpu().numpy()), dtype=np.int64)
            else:
                raise ValueError(f"{self.path} needs input {name!r}; the batch has {sorted(batch)}")
        (logits,) = self.session.run([OUTPUT], feeds)
        return SequenceClassifierOutput(logits=torch.from_numpy(logits))


def onnx_path(folder: str | Path, backend: str) -> Path:
    """The ONNX file of ``backend`` in a model folder; a FileNotFoundError that says how
    to make it when it is missing."""
    if backend not in ONNX_FILES:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    path = Path(folder) / ONNX_DIR / ONNX_FILES[backend]
    if not path.is_file():
        flags = " --int8 true" if backend == "onnx-int8" else ""
        raise FileNotFoundError(
            f"{folder} has no {ONNX_DIR}/{ONNX_FILES[backend]} (backend={backend!r}): write it with "
            f"`rankwright export --onnx true{flags} --model {folder} --output {folder}`"
        )
    return path


def load_onnx_model(folder: str, metadata: ModelMetadata, backend: str, **kwargs: Any) -> OnnxSession:
    """What ``Reranker.from_pretrained(backend=...)`` scores with: the folder's ONNX
    model (a sequence classifier for a cross-encoder, a sentence encoder for a
    bi-encoder), after refusing what has none (generative models, unmerged LoRA
    adapters)."""
    if backend not in ONNX_FILES:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if metadata.model_type not in ("cross-encoder", "bi-encoder"):
        raise ValueError(
            f"{folder} is a {metadata.model_type} model: the ONNX backends serve cross-encoders "
            "(sequence classifiers) and bi-encoders only; use backend='torch'"
        )
    if metadata.adapter:
        raise ValueError(f"{folder} is a LoRA adapter: `rankwright export --merge true --onnx true` it first")
    if metadata.model_type == "bi-encoder":
        from rankwright.inference.onnx_embedding import OnnxSentenceEncoder  # it imports this module

        return OnnxSentenceEncoder.from_pretrained(folder, backend, **kwargs)
    return OnnxSequenceClassifier.from_pretrained(folder, quantized=backend == "onnx-int8", **kwargs)
