"""Serving a fine-tuned bi-encoder (``model_type: bi-encoder``): the library's cosines
in every API shape, usage tokens, and the cuts measured on a document alone (a
bi-encoder embeds it without the query)."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from rankwright.inference.reranker import Reranker
from rankwright.serving.cutting import keep_first, keep_last

QUERY = "cordless drill"
DOCS = ["cordless drill with two batteries", "three seat sofa", "garden hose 50 ft", "drill bits set"]
LONG = "a cordless drill " + " ".join(["with a long description of its case"] * 12) + " and a free sofa"


def sigmoid(x) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


@pytest.fixture(scope="module")
def bi_folder(tiny_bi_encoder) -> str:
    return tiny_bi_encoder  # max_length 16


@pytest.fixture(scope="module")
def reranker(bi_folder) -> Reranker:
    return Reranker.from_pretrained(bi_folder)


@pytest.fixture(scope="module")
def client(bi_folder, serving):
    with serving(Reranker.from_pretrained(bi_folder), name="tiny-bi") as base, httpx.Client(base_url=base) as c:
        yield c


def test_a_bi_encoder_serves_its_cosines_in_every_shape(client, reranker):
    health = client.get("/health").json()
    assert health["model_type"] == "bi-encoder" and "cosine" in health["relevance_score"]
    cosines = reranker.logits(QUERY, DOCS)
    tei = client.post("/rerank", json={"query": QUERY, "texts": DOCS, "raw_scores": True})
    assert tei.status_code == 200, tei.text
    assert [r["index"] for r in tei.json()] == list(np.argsort(-cosines, kind="stable"))
    np.testing.assert_allclose([r["score"] for r in tei.json()], np.sort(cosines)[::-1], atol=1e-5)
    cohere = client.post("/v2/rerank", json={"model": "tiny-bi", "query": QUERY, "documents": DOCS})
    assert cohere.status_code == 200, cohere.text
    results = cohere.json()["results"]
    np.testing.assert_allclose(
        [r["relevance_score"] for r in results], sigmoid(cosines)[[r["index"] for r in results]], atol=1e-5
    )
    tokenizer = reranker.model.tokenizer
    expected_tokens = sum(len(tokenizer(QUERY)["input_ids"]) + len(tokenizer(d)["input_ids"]) for d in DOCS)
    assert cohere.json()["usage"] == {"documents": len(DOCS), "tokens": expected_tokens}


def test_a_bi_encoder_cuts_documents_on_their_own_length(client, reranker):
    tokenizer = reranker.model.tokenizer
    room = 16 - tokenizer.num_special_tokens_to_add(pair=False)
    # too long alone: refused with truncate false; a document that fits alone is kept,
    # however long the query (no pair to share the room with)
    refused = client.post("/rerank", json={"query": QUERY, "texts": [DOCS[1], LONG], "truncate": False})
    assert refused.status_code == 413 and "texts[1]: longer than the model's max_length=16" in refused.text
    fits = "drill " * (room - 2)
    long_query = "cordless drill " * 20
    accepted = client.post("/rerank", json={"query": long_query, "texts": [fits], "truncate": False})
    assert accepted.status_code == 200, accepted.text
    left = client.post(
        "/rerank", json={"query": QUERY, "texts": [LONG], "truncation_direction": "Left", "raw_scores": True}
    )
    kept = keep_last(tokenizer, [LONG], [room])[0]
    assert LONG.endswith(kept) and len(kept) < len(LONG)
    np.testing.assert_allclose(left.json()[0]["score"], reranker.logits(QUERY, [kept])[0], atol=1e-5)
    cut = client.post("/v2/rerank", json={"model": "m", "query": QUERY, "documents": [LONG], "max_tokens_per_doc": 4})
    first = keep_first(tokenizer, [LONG], [4])[0]
    np.testing.assert_allclose(
        cut.json()["results"][0]["relevance_score"], sigmoid(reranker.logits(QUERY, [first]))[0], atol=1e-5
    )


def test_a_bi_encoder_serves_from_its_onnx_export(tmp_path, bi_folder, serving, reranker):
    """``serve --backend onnx`` of an exported bi-encoder: the torch cosines (1e-5),
    and health says which backend answers."""
    from rankwright.cli import main as cli
    from rankwright.commands.configs import ServeConfig
    from rankwright.commands.serve import load_reranker

    folder = tmp_path / "exported"
    assert cli(["export", "--model", bi_folder, "--output", str(folder), "--onnx", "true"]) == 0
    onnx = load_reranker(ServeConfig(model=str(folder), backend="onnx", workers=1))
    with serving(onnx, name="tiny-bi", backend="onnx") as base, httpx.Client(base_url=base) as client:
        assert client.get("/health").json()["backend"] == "onnx"
        answer = client.post("/rerank", json={"query": QUERY, "texts": DOCS, "raw_scores": True})
        assert answer.status_code == 200, answer.text
        cosines = reranker.logits(QUERY, DOCS)
        assert [r["index"] for r in answer.json()] == list(np.argsort(-cosines, kind="stable"))
        np.testing.assert_allclose([r["score"] for r in answer.json()], np.sort(cosines)[::-1], atol=1e-5)
