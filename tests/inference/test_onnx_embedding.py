"""A bi-encoder's ONNX export: the whole sentence-transformers module chain in one
graph, embeddings equal to ``SentenceTransformer.encode``, the ``onnx`` /
``onnx-int8`` backends of ``Reranker``, the comparison with torch on evaluation data,
and the refusals."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import numpy as np
import pytest

from rankwright.cli import main as cli
from rankwright.inference.bi_encoder import BiEncoderReranker
from rankwright.inference.onnx_embedding import EMBEDDING, TOKENS, OnnxSentenceEncoder
from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata

QUERY = "cordless drill"
#: the first one is longer than the folder's 16 tokens: truncation must match too
DOCS = [
    "a cordless drill with two lithium-ion batteries, a charger, a case and forty bits for wood and metal",
    "velvet sofa",
    "garden hose 50 ft",
    "drill bits",
]
LABELS = ["--labels.scheme", "graded", "--labels.relevant_gain", "2"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_bi_encoder, write_pointwise):
    """``rankwright export --onnx true --int8 true`` of the tiny bi-encoder, with
    evaluation on the test queries of a 60/20/20 split."""
    tmp = tmp_path_factory.mktemp("onnx-bi")
    data = write_pointwise(tmp / "pairs.jsonl", n_queries=40)
    out = tmp / "out"
    argv = ["export", "--model", tiny_bi_encoder, "--output", str(out), "--onnx", "true", "--int8", "true"]
    argv += ["--data.path", str(data), *LABELS, "--split.ratios", "0.6,0.2,0.2", "--subset", "test"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = cli(argv)
    assert rc == 0, printed.getvalue()
    return out, printed.getvalue()


def st_embeddings(folder, texts: list[str], max_length: int) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    model.max_seq_length = max_length
    return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)


def test_onnx_embeddings_equal_sentence_transformers_including_truncation(exported):
    out, _ = exported
    encoder = OnnxSentenceEncoder.from_pretrained(out, "onnx")
    encoder.max_seq_length = 16
    texts = [QUERY, *DOCS]
    got = encoder.encode(texts, batch_size=2, normalize_embeddings=True)
    np.testing.assert_allclose(got, st_embeddings(out, texts, 16), atol=1e-5)
    assert encoder.get_embedding_dimension() == got.shape[1] == 32
    # without truncation the long text's embedding is another one: the limit was applied
    encoder.max_seq_length = 128
    assert np.abs(encoder.encode(DOCS[:1], normalize_embeddings=True) - got[1]).max() > 1e-3


def test_the_onnx_backends_score_like_torch(exported):
    out, _ = exported
    torch_scores = Reranker.from_pretrained(str(out)).score(QUERY, DOCS)
    fp32 = Reranker.from_pretrained(str(out), backend="onnx", threads=1)
    assert isinstance(fp32, BiEncoderReranker) and fp32.backend == "onnx"
    assert isinstance(fp32.model, OnnxSentenceEncoder) and fp32.model.threads == 1
    np.testing.assert_allclose(fp32.score(QUERY, DOCS), torch_scores, atol=1e-5)
    assert [r.index for r in fp32.rank(QUERY, DOCS)] == list(np.argsort(-torch_scores, kind="stable"))
    int8 = Reranker.from_pretrained(str(out), backend="onnx-int8").score(QUERY, DOCS)
    assert 0 < np.abs(int8 - torch_scores).max() < 0.05  # quantised: close, not equal


def test_the_graph_and_the_folder_record(exported):
    import onnx

    out, printed = exported
    graph = onnx.load(str(out / "onnx" / "model.onnx")).graph
    assert [o.name for o in graph.output] == [TOKENS, EMBEDDING]
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    dims = [d.dim_param for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "sequence"]
    record = ModelMetadata.load(out).export["onnx"]
    assert record["files"] == {"onnx": "onnx/model.onnx", "onnx-int8": "onnx/model_int8.onnx"}
    assert record["check"]["onnx_max_abs_diff"] < 1e-5 < record["check"]["onnx-int8_max_abs_diff"]
    assert ModelMetadata.load(out).model_type == "bi-encoder"
    assert "max |embedding component - torch| on the check texts" in printed
    assert (out / "modules.json").is_file()  # still a sentence-transformers folder


def test_the_report_compares_each_onnx_file_with_torch(exported):
    out, printed = exported
    report = json.loads((out / "export_report.json").read_text())
    assert report["data"]["queries"] == 8 and report["data"]["pairs"] == 40
    assert abs(report["onnx"]["ndcg@10_diff"]) < 1e-9 and report["onnx"]["max_abs_diff"] < 1e-5
    assert report["onnx"]["spearman"] > 0.999 and report["onnx-int8"]["pearson"] > 0.9
    assert "onnx-int8" in printed and "speedup" in printed


def test_a_folder_without_the_file_says_how_to_export(tiny_bi_encoder):
    with pytest.raises(FileNotFoundError, match="rankwright export --onnx true"):
        Reranker.from_pretrained(tiny_bi_encoder, backend="onnx")
    with pytest.raises(ValueError, match="runs on CPU"):
        Reranker.from_pretrained(tiny_bi_encoder, backend="onnx", device="cuda")


def test_an_onnx_file_without_sentence_embeddings_is_refused(tmp_path, tiny_bi_encoder):
    """A cross-encoder's graph (``logits``) copied into a bi-encoder folder."""
    import onnx
    from onnx import TensorProto, helper

    folder = tmp_path / "bi"
    shutil.copytree(tiny_bi_encoder, folder)
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])
    logits = helper.make_tensor_value_info("logits", TensorProto.INT64, ["batch", "sequence"])
    graph = helper.make_graph([helper.make_node("Identity", ["input_ids"], ["logits"])], "g", [ids], [logits])
    (folder / "onnx").mkdir()
    onnx.save(helper.make_model(graph), str(folder / "onnx" / "model.onnx"))
    with pytest.raises(ValueError, match="has no 'sentence_embedding' output"):
        Reranker.from_pretrained(str(folder), backend="onnx")
