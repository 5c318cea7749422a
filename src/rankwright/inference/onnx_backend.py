"""ONNX Runtime CPU inference for cross-encoders: export, int8 quantisation, and a
stand-in for the torch model that ``Reranker`` scores through unchanged.

A model folder keeps its ONNX files where sentence-transformers and Optimum put them:
``onnx/model.onnx`` (fp32) and ``onnx/model_int8.onnx`` (dynamic int8). The exported
graph takes the tokenizer's inputs (``input_ids``, ``attention_mask`` and, for BERT-like
models, ``token_type_ids``) with dynamic batch and sequence axes and returns
``logits`` ``[batch, num_labels]``, so one file serves every batch size and length.

Export uses torch's TorchScript-based exporter (``dynamo=False``; the dynamo exporter
fails in ``torch.export`` on transformers' BERT here) with the model's eager attention
(see ``eager_attention``). Every export is checked with ``onnx.checker`` and scored
against torch on a few pairs of different lengths and batch sizes; a difference above
the tolerance is an error, not a warning. The session applies ONNX Runtime's own graph
optimisations (level ALL) at start; the offline transformer optimiser
(``onnxruntime.transformers.optimizer``, Attention/SkipLayerNorm/BiasGelu fusions) was
measured 9% slower on MiniLM-L6 on this CPU and is not used. On 1-2 CPU threads the
fp32 ONNX model scores about as fast as torch: it serves without torch and is the source
of the int8 model, which is about 2x faster.

int8 is ONNX Runtime's dynamic quantisation: weights stored as int8, activations
quantised per batch at run time, no calibration data. The default settings
(:class:`Int8Config`) were chosen on a Home Depot-trained MiniLM: see the class.
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rankwright.inference.config import DEFAULT_OPSET, Int8Config
from rankwright.inference.onnx_runtime import (  # noqa: F401 (re-exported: the loading side)
    BACKENDS,
    ONNX_DIR,
    ONNX_FILES,
    OUTPUT,
    OnnxSequenceClassifier,
    load_onnx_model,
    onnx_path,
)
from rankwright.inference.reranker import Reranker

log = logging.getLogger(__name__)

#: Largest |ONNX - torch| logit allowed by the export check (fp32 is ~1e-6 in practice).
FP32_TOLERANCE = 1e-4

#: Built-in pairs for the export check: different lengths, so padding is exercised.
CHECK_PAIRS = [
    ("cordless drill", "20V MAX cordless drill driver kit with two lithium-ion batteries and charger"),
    ("cordless drill", "garden hose 50 ft"),
    ("white ceiling fan with light", "52 in. white indoor ceiling fan with LED light kit and remote control"),
    ("white ceiling fan with light", "fan"),
    ("outdoor rug 5x7", "5 ft. x 7 ft. blue geometric indoor/outdoor area rug, stain resistant, easy to clean"),
    ("led bulb", "60-watt equivalent A19 dimmable LED light bulb soft white (4-pack)"),
    ("led bulb", "x"),
]


# -- export -------------------------------------------------------------------------------------


class _LogitsOnly(torch.nn.Module):
    """The classifier with positional tensor inputs and the logits tensor as output:
    what the exporter traces."""

    def __init__(self, model: torch.nn.Module, input_names: Sequence[str]):
        super().__init__()
        self.model = model
        self.input_names = list(input_names)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.input_names, inputs, strict=True))).logits


def _input_names(model: torch.nn.Module, encoded: dict[str, Any]) -> list[str]:
    import inspect

    accepted = inspect.signature(model.forward).parameters
    return [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded and k in accepted]


def _export_fp32(reranker: Reranker, path: Path, opset: int) -> list[str]:
    """Trace the model (eager attention) to ``path`` and check the graph."""
    import onnx

    model = reranker.model
    tokenizer = reranker.head.tokenizer
    queries, docs = zip(*CHECK_PAIRS[:2], strict=True)
    encoded = tokenizer(list(queries), list(docs), padding=True, return_tensors="pt")
    names = _input_names(model, encoded)
    axes = {name: {0: "batch", 1: "sequence"} for name in names} | {OUTPUT: {0: "batch"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    attention = getattr(model.config, "_attn_implementation", None)
    with eager_attention(model), torch.no_grad(), warnings.catch_warnings():
        ignore_checked_trace_warnings()
        torch.onnx.export(
            _LogitsOnly(model, names).eval(),
            tuple(encoded[n] for n in names),
            str(path),
            input_names=names,
            output_names=[OUTPUT],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    log.debug("traced with eager attention (the model's own: %s)", attention)
    onnx.checker.check_model(str(path), full_check=True)
    return names


def ignore_checked_trace_warnings() -> None:
    """The tracer warns that Python branches on shapes become constants (transformers'
    mask padding check, always false for an encoder) and that advanced indexing breaks
    on negative indices (none here): the export check scores other batch sizes and
    lengths against torch, which is what would catch either."""
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", message="Exporting aten::index operator")
    # dynamo=False is chosen on purpose (see the module docstring)
    warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
    warnings.filterwarnings("ignore", message="The feature will be removed", category=DeprecationWarning)


@contextmanager
def eager_attention(model: torch.nn.Module) -> Iterator[None]:
    """Trace the plain matmul-softmax attention: the SDPA path traces to a graph with
    NaN guards (IsNaN/Where per layer) that is no more accurate and no faster."""
    before = getattr(model.config, "_attn_implementation", None)
    switch = before not in (None, "eager") and hasattr(model, "set_attn_implementation")
    if switch:
        try:
            model.set_attn_implementation("eager")
        except (ValueError, NotImplementedError) as err:  # a model without an eager path: trace as it is
            log.debug("keeping %s attention for export: %s", before, err)
            switch = False
    try:
        yield
    finally:
        if switch:
            model.set_attn_implementation(before)


def quantize_int8(fp32_path: str | Path, int8_path: str | Path, config: Int8Config | None = None) -> Path:
    """Write the dynamic int8 version of an fp32 ONNX model with ``config``'s settings."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    config = config or Int8Config()
    weight_types = {"qint8": QuantType.QInt8, "quint8": QuantType.QUInt8}
    if config.weight_type not in weight_types:
        raise ValueError(f"weight_type must be one of {sorted(weight_types)}, got {config.weight_type!r}")
    int8_path = Path(int8_path)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(fp32_path)
        if config.preprocess:
            pre = Path(tmp) / "preprocessed.onnx"
            quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
            source = pre
        nodes = onnx.load(str(source), load_external_data=False).graph.node
        exclude = [n.name for n in nodes if any(s in n.name for s in config.exclude)]
        with _quiet_root_logger():  # quantize_dynamic logs one INFO line per tensor to the root logger
            quantize_dynamic(
                str(source),
                str(int8_path),
                op_types_to_quantize=list(config.op_types) or None,
                per_channel=config.per_channel,
                reduce_range=config.reduce_range,
                weight_type=weight_types[config.weight_type],
                nodes_to_exclude=exclude,
            )
    onnx.checker.check_model(str(int8_path))
    return int8_path


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        root.setLevel(level)


def max_logit_difference(reranker: Reranker, onnx_model: OnnxSequenceClassifier) -> float:
    """Largest |ONNX - torch| logit on :data:`CHECK_PAIRS` (scored in uneven batches)."""
    queries, docs = [q for q, _ in CHECK_PAIRS], [d for _, d in CHECK_PAIRS]
    reference = reranker.logits(queries, docs, batch_size=3)
    onnx_reranker = Reranker(onnx_model, reranker.head, reranker.metadata, "cpu")
    return float(np.abs(onnx_reranker.logits(queries, docs, batch_size=3) - reference).max())


@dataclass
class OnnxExport:
    """What ``export_onnx`` wrote: files relative to the folder, and how they were made."""

    files: dict[str, str]
    opset: int
    inputs: list[str]
    exporter: str = "torch.onnx (TorchScript, dynamo=False)"
    int8: dict[str, Any] | None = None
    check: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_onnx(
    model: Reranker | str | Path,
    output_dir: str | Path,
    *,
    int8: bool,
    opset: int = DEFAULT_OPSET,
    int8_config: Int8Config | None = None,
    tolerance: float = FP32_TOLERANCE,
) -> OnnxExport:
    """Export a cross-encoder (a ``Reranker`` or a model folder) to
    ``output_dir/onnx/model.onnx`` and, with ``int8``, ``onnx/model_int8.onnx``.

    The fp32 model must match torch within ``tolerance`` on :data:`CHECK_PAIRS` (a
    RuntimeError otherwise, and the file is removed); the int8 model's largest
    difference is recorded only, since quantisation moves scores by design (its ranking
    quality is measured by ``rankwright export`` with evaluation data). A ``Reranker``
    passed in is moved to CPU in fp32."""
    from rankwright.models.loading import model_type_of, resolve_model_path

    start = time.perf_counter()
    if not isinstance(model, Reranker):
        path = resolve_model_path(str(model))
        if model_type_of(path) != "cross-encoder":
            raise ValueError(f"{path} is a generative model: ONNX export is for cross-encoders (sequence classifiers)")
        model = Reranker.from_pretrained(path, device="cpu")
    reranker = model
    if reranker.metadata.model_type != "cross-encoder":
        raise ValueError("ONNX export is for cross-encoders (sequence classifiers); this is a generative model")
    if not isinstance(reranker.model, torch.nn.Module) or hasattr(reranker.model, "get_base_model"):
        raise ValueError("export a full torch model: merge LoRA adapters first (rankwright export --merge true)")
    reranker.model.to("cpu").float().eval()
    reranker.device = torch.device("cpu")
    config = reranker.model.config
    return checked_export(
        Path(output_dir),
        lambda path: _export_fp32(reranker, path, opset),
        lambda path: max_logit_difference(reranker, OnnxSequenceClassifier(path, config)),
        opset=opset,
        int8=int8,
        int8_config=int8_config,
        tolerance=tolerance,
        started=start,
    )


def checked_export(
    folder: Path,
    trace: Callable[[Path], list[str]],
    difference: Callable[[Path], float],
    *,
    opset: int,
    int8: bool,
    int8_config: Int8Config | None,
    tolerance: float,
    started: float,
    compared: str = "model",
    on: str = "check pairs",
) -> OnnxExport:
    """``trace(path)`` writes the fp32 file (returning its input names), which must be
    within ``tolerance`` of torch by ``difference(path)`` (else a RuntimeError, and the
    file is removed); with ``int8`` the quantised file follows, its difference recorded
    only. ``started``: when the export began (``perf_counter``)."""
    fp32 = folder / ONNX_DIR / ONNX_FILES["onnx"]
    names = trace(fp32)
    diff = difference(fp32)
    if not diff <= tolerance:
        fp32.unlink()
        raise RuntimeError(
            f"the exported ONNX {compared} differs from torch by {diff:.3g} (> {tolerance:g}) on the {on}; "
            "the file was removed"
        )
    log.info("exported %s (opset %d, inputs %s); max |onnx - torch| = %.2g", fp32, opset, names, diff)
    result = OnnxExport({"onnx": str(fp32.relative_to(folder))}, opset, names, check={"onnx_max_abs_diff": diff})
    if int8:
        int8_config = int8_config or Int8Config()
        path = quantize_int8(fp32, folder / ONNX_DIR / ONNX_FILES["onnx-int8"], int8_config)
        result.files["onnx-int8"] = str(path.relative_to(folder))
        result.int8 = {"method": "onnxruntime.quantization.quantize_dynamic", **int8_config.to_dict()}
        result.check["onnx-int8_max_abs_diff"] = difference(path)
        log.info("quantised %s (max |int8 - torch| = %.3g)", path, result.check["onnx-int8_max_abs_diff"])
    result.seconds = round(time.perf_counter() - started, 2)
    return result
