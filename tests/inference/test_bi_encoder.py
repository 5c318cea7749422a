"""A bi-encoder folder as a ``Reranker`` (cosine of separate embeddings), and the
fine-tuned bi-encoder as a fusion component of a cross-encoder."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from rankwright.inference.bi_encoder import BiEncoderReranker
from rankwright.inference.fusion import fuse
from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata

QUERY = "cordless drill"
DOCS = ["drill kit with battery", "velvet sofa", "garden hose", "drill bits"]


@pytest.fixture(scope="module")
def bi_folder(tiny_bi_encoder) -> str:
    return tiny_bi_encoder


def cosines(folder: str, queries: list[str], docs: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(folder)
    model.max_seq_length = 16
    q = model.encode(queries, normalize_embeddings=True)
    d = model.encode(docs, normalize_embeddings=True)
    return np.einsum("ij,ij->i", q, d)


def test_a_bi_encoder_folder_loads_as_a_cosine_reranker(bi_folder):
    reranker = Reranker.from_pretrained(bi_folder)
    assert isinstance(reranker, BiEncoderReranker) and reranker.metadata.score == "cosine"
    scores = reranker.score(QUERY, DOCS)
    np.testing.assert_allclose(scores, cosines(bi_folder, [QUERY] * len(DOCS), DOCS), atol=1e-5)
    assert [r.index for r in reranker.rank(QUERY, DOCS, top_k=2)] == list(np.argsort(-scores, kind="stable")[:2])
    assert reranker.score(QUERY, []).shape == (0,)
    with pytest.raises(ValueError, match="2 queries but 1 documents"):
        reranker.score(["a", "b"], ["c"])


def test_a_cross_encoder_fused_with_the_fine_tuned_bi_encoder(tmp_path, tiny_cross_encoder, bi_folder):
    folder = tmp_path / "fused"
    shutil.copytree(tiny_cross_encoder, folder)
    fusion = {"method": "zscore", "weights": {"reranker": 0.4, "biencoder": 0.6}, "biencoder_model": bi_folder}
    ModelMetadata(max_length=32, fusion=fusion).save(folder)
    reranker = Reranker.from_pretrained(folder)
    own = reranker.score(QUERY, DOCS, fused=False)
    expected = fuse(
        {"reranker": own, "biencoder": cosines(bi_folder, [QUERY] * len(DOCS), DOCS)}, [QUERY] * len(DOCS), fusion
    )
    np.testing.assert_allclose(reranker.score(QUERY, DOCS), expected, atol=1e-5)


def test_a_fusion_weighting_the_bi_encoder_must_name_it(tmp_path, tiny_cross_encoder):
    folder = tmp_path / "fused"
    shutil.copytree(tiny_cross_encoder, folder)
    ModelMetadata(max_length=32, fusion={"method": "minmax", "weights": {"reranker": 0.5, "biencoder": 0.5}}).save(
        folder
    )
    reranker = Reranker.from_pretrained(folder)
    with pytest.raises(ValueError, match=r"needs biencoder scores .* biencoder_model"):
        reranker.score(QUERY, DOCS)
    np.testing.assert_allclose(reranker.score(QUERY, DOCS, fused=False), reranker.logits(QUERY, DOCS))


def test_evaluate_and_rerank_commands_score_with_a_bi_encoder(tmp_path, write_pointwise, bi_folder):
    import json

    from rankwright.cli import main as cli
    from rankwright.data.readers import read_run

    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=6)
    common = ["--data.path", str(data), "--labels.scheme", "graded", "--labels.relevant_gain", "2"]
    common += ["--progress", "false"]
    out = tmp_path / "eval"
    argv = ["evaluate", "--scorer", "model", "--model", bi_folder, *common, "--report", "false"]
    assert cli([*argv, "--output_dir", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    # every pair's score is the cosine of the two embeddings, and the ranks follow it
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert len(predictions) == 6 * 5
    expected = cosines(bi_folder, predictions["query"].tolist(), predictions["doc"].tolist())
    np.testing.assert_allclose(predictions["score"].to_numpy(), expected, atol=1e-4)
    ndcgs = []
    for _, group in predictions.groupby("query_id"):
        by_cosine = np.argsort(-expected[group.index], kind="stable")
        assert group["rank"].to_numpy()[by_cosine].tolist() == list(range(1, len(group) + 1))
        gains = group["gain"].to_numpy(dtype=float)
        discount = 1 / np.log2(np.arange(2, len(group) + 2))
        ndcgs.append((gains[by_cosine] * discount).sum() / (np.sort(gains)[::-1] * discount).sum())
    # and nDCG@10 (5 documents a query, linear gains) is the mean over the queries of that ranking
    assert metrics["ranking"][metrics["system"]]["all"]["ndcg@10"] == pytest.approx(np.mean(ndcgs), abs=1e-6)
    run = tmp_path / "reranked.trec"
    argv = ["rerank", "--model", bi_folder, "--data.path", str(data), "--progress", "false"]
    assert cli([*argv, "--output", str(run)]) == 0
    reranked = read_run(run)
    first = reranked[reranked["query_id"] == "q0"]
    queries = ["drill number 0"] * len(first)
    docs = {f"q0d{j}": text for j, text in enumerate(["drill model 0", "sofa model 1", "lamp model 2"])}
    expected = dict(zip(docs, cosines(bi_folder, queries[: len(docs)], list(docs.values())), strict=True))
    scores = dict(zip(first["doc_id"], first["score"], strict=True))
    for doc_id, value in expected.items():
        assert abs(scores[doc_id] - value) < 1e-4
