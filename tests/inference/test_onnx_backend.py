"""ONNX backend: the exported fp32 model scores as torch does (through the one
``Reranker`` batching path), int8 follows fp32, and what has no ONNX model says so."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest
import torch
import transformers

from rankwright.inference import onnx_backend
from rankwright.inference.onnx_backend import Int8Config, OnnxSequenceClassifier, export_onnx
from rankwright.inference.reranker import Reranker

WORDS = ["drill", "sofa", "lamp", "kettle", "hose", "table", "chair", "fan", "rug", "bulb"]
# 40 pairs of very different lengths (1 to ~60 tokens), so batches pad differently.
QUERIES = [f"{WORDS[i % 10]} {WORDS[(i * 3) % 10]}" for i in range(40)]
DOCS = [" ".join(WORDS[(i + j) % 10] for j in range(1 + (i * 7) % 60)) for i in range(40)]


def _cross_encoder(folder, tiny_bert: str, num_labels: int) -> str:
    """A ``tiny_cross_encoder``-style folder whose weights are drawn wider
    (initializer_range 0.2): with the default 0.02 a random tiny BERT gives every pair
    nearly the same score (std ~5e-5), below int8 noise, and no correlation means much."""
    config = transformers.AutoConfig.from_pretrained(tiny_bert, num_labels=num_labels, initializer_range=0.2)
    torch.manual_seed(3)
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_bert) -> str:
    folder = _cross_encoder(tmp_path_factory.mktemp("onnx-ce"), tiny_bert, 1)
    export_onnx(folder, folder, int8=True)
    return folder


def test_fp32_onnx_scores_and_ranks_like_torch(exported):
    torch_reranker = Reranker.from_pretrained(exported, device="cpu")
    onnx_reranker = Reranker.from_pretrained(exported, backend="onnx")
    assert isinstance(onnx_reranker.model, OnnxSequenceClassifier)
    expected = torch_reranker.score(QUERIES, DOCS, batch_size=64)
    assert expected.std() > 0.05  # the pairs score differently: equality below means something
    for batch_size in (1, 7, 64):
        got = onnx_reranker.score(QUERIES, DOCS, batch_size=batch_size)
        assert got.shape == (40,)
        assert np.abs(got - expected).max() <= 1e-5
    ranked = onnx_reranker.rank("drill", DOCS[:12], top_k=5)
    reference = torch_reranker.rank("drill", DOCS[:12], top_k=5)
    assert [r.index for r in ranked] == [r.index for r in reference]
    assert np.allclose([r.score for r in ranked], [r.score for r in reference], atol=1e-5)


def test_int8_model_is_smaller_and_follows_fp32(exported):
    fp32 = Reranker.from_pretrained(exported, backend="onnx").score(QUERIES, DOCS)
    int8 = Reranker.from_pretrained(exported, backend="onnx-int8").score(QUERIES, DOCS)
    assert np.corrcoef(fp32, int8)[0, 1] > 0.9
    assert np.abs(int8 - fp32).max() > 1e-4  # really quantised
    path = f"{exported}/onnx/model_int8.onnx"
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    sizes = [onnx_backend.Path(exported, "onnx", f).stat().st_size for f in ("model.onnx", "model_int8.onnx")]
    assert sizes[1] < sizes[0] / 2


def test_exported_graph_has_the_tokenizer_inputs_and_dynamic_axes(exported):
    graph = onnx.load(f"{exported}/onnx/model.onnx").graph
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in graph.output] == ["logits"]
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input]
    assert dims == [["batch", "sequence"]] * 3


def test_onnx_model_stands_in_for_the_torch_model(exported):
    model = Reranker.from_pretrained(exported, backend="onnx", threads=1).model
    assert model.training is False and model.eval() is model and model.to("cpu") is model
    assert model.config.num_labels == 1 and model.threads == 1
    with pytest.raises(ValueError, match="runs on CPU"):
        model.to("cuda")
    with pytest.raises(ValueError, match="runs on CPU"):
        Reranker.from_pretrained(exported, "cuda", backend="onnx")
    with pytest.raises(RuntimeError, match="cannot be trained"):
        model.train()
    ids = torch.tensor([[101, 2000, 102]])
    no_segments = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    with_segments = model(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=torch.zeros_like(ids))
    assert no_segments.dtype == torch.float32 and torch.equal(no_segments, with_segments.logits)


def test_class_model_logits_match_torch(tmp_path, tiny_bert):
    folder = _cross_encoder(tmp_path / "classes", tiny_bert, 3)
    export_onnx(folder, folder, int8=False)
    expected = Reranker.from_pretrained(folder, device="cpu").logits(QUERIES, DOCS, batch_size=16)
    got = Reranker.from_pretrained(folder, backend="onnx").logits(QUERIES, DOCS, batch_size=16)
    assert got.shape == (40, 3)
    assert np.abs(got - expected).max() <= 1e-5
    assert not (tmp_path / "classes" / "onnx" / "model_int8.onnx").exists()


def test_a_folder_without_onnx_says_how_to_export(tmp_path, tiny_cross_encoder, exported):
    with pytest.raises(FileNotFoundError, match="rankwright export --onnx true --model"):
        Reranker.from_pretrained(tiny_cross_encoder, backend="onnx")
    fp32_only = tmp_path / "fp32-only"
    shutil.copytree(exported, fp32_only)
    (fp32_only / "onnx" / "model_int8.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="--int8 true"):
        Reranker.from_pretrained(str(fp32_only), backend="onnx-int8")
    with pytest.raises(ValueError, match="backend must be one of"):
        Reranker.from_pretrained(exported, backend="onxx")


def test_generative_models_are_refused(tiny_llama, tmp_path):
    with pytest.raises(ValueError, match="cross-encoders"):
        Reranker.from_pretrained(tiny_llama, backend="onnx")
    with pytest.raises(ValueError, match="cross-encoders"):
        export_onnx(tiny_llama, tmp_path, int8=False)
    assert not (tmp_path / "onnx").exists()


def test_an_export_that_differs_from_torch_is_an_error(tmp_path, tiny_cross_encoder, monkeypatch):
    monkeypatch.setattr(onnx_backend, "max_logit_difference", lambda *_: 3e-4)
    with pytest.raises(RuntimeError, match=r"differs from torch by 0.0003 \(> 0.0001\).*removed"):
        export_onnx(tiny_cross_encoder, tmp_path, int8=False)
    assert not (tmp_path / "onnx" / "model.onnx").exists()


def test_int8_settings_reach_the_quantiser(exported, tmp_path):
    """Excluded nodes stay fp32 MatMuls; per-tensor weights have one scale per matrix."""
    fp32 = f"{exported}/onnx/model.onnx"
    path = onnx_backend.quantize_int8(
        fp32, tmp_path / "q.onnx", Int8Config(op_types=["MatMul"], per_channel=False, exclude=["layer.0/"])
    )
    model = onnx.load(str(path))
    float_matmuls = [n.name for n in model.graph.node if n.op_type == "MatMul"]
    assert float_matmuls and all("layer.0/" in n or "attention/self" in n for n in float_matmuls)
    assert any("layer.0/intermediate" in n for n in float_matmuls)
    assert not any(n.op_type == "DequantizeLinear" and "embeddings" in n.name for n in model.graph.node)
    scales = [t for t in model.graph.initializer if t.name.endswith("_scale")]
    assert scales and all(len(t.dims) == 0 or t.dims == [1] for t in scales)
