"""Request shapes on a live server: Hugging Face TEI's (``texts``, answered as a list of
``{index, score, text}``; ``raw_scores``, ``return_text``, ``truncate``,
``truncation_direction``), Cohere v2 through the official SDK (``ClientV2.rerank`` with
``max_tokens_per_doc``) and Cohere v1 (``Client.rerank`` with object documents and
``rank_fields``); the served name on every answer, ``top_n`` clamped and said, and the
bad input of each shape."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from rankwright.inference.reranker import Reranker
from rankwright.serving.cutting import document_room, keep_first, keep_last

QUERY = "cordless drill"
DOCS = ["cordless drill with two batteries", "three seat sofa", "garden hose 50 ft", "drill bits set"]
LONG = "a cordless drill " + " ".join(["with a long description of its case"] * 12) + " and a free sofa"


def sigmoid(x) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


class RecordingHead:
    """The model's head, recording the documents of each ``encode`` call."""

    def __init__(self, head):
        self._head, self.docs = head, []

    def __getattr__(self, name):
        return getattr(self._head, name)

    def encode(self, queries, docs):
        self.docs.append(list(docs))
        return self._head.encode(queries, docs)


@pytest.fixture(scope="module")
def reranker(tiny_cross_encoder) -> Reranker:
    return Reranker.from_pretrained(tiny_cross_encoder, max_length=32)


@pytest.fixture(scope="module")
def served(tiny_cross_encoder) -> Reranker:
    """The served reranker: its head records what is encoded."""
    served = Reranker.from_pretrained(tiny_cross_encoder, max_length=32)
    served.head = RecordingHead(served.head)
    return served


@pytest.fixture(scope="module")
def url(served, serving) -> str:
    with serving(served, name="tiny-shapes", api_key="s3cret", max_documents=8) as base:
        yield base


@pytest.fixture(scope="module")
def client(url) -> httpx.Client:
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": "Bearer s3cret"}) as c:
        yield c


def test_a_tei_body_is_answered_in_teis_shape(client, reranker):
    response = client.post("/rerank", json={"query": QUERY, "texts": DOCS})
    assert response.status_code == 200, response.text
    results = response.json()
    logits = reranker.logits(QUERY, DOCS)
    assert [r["index"] for r in results] == [r.index for r in reranker.rank(QUERY, DOCS)]
    assert all(set(r) == {"index", "score"} for r in results)
    np.testing.assert_allclose([r["score"] for r in results], sigmoid(logits)[[r["index"] for r in results]], atol=1e-5)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert response.headers["x-model-id"] == "tiny-shapes"
    raw = client.post("/rerank", json={"query": QUERY, "texts": DOCS, "raw_scores": True, "return_text": True})
    raw_results = raw.json()
    np.testing.assert_allclose([r["score"] for r in raw_results], logits[[r["index"] for r in raw_results]], atol=1e-5)
    assert [r["text"] for r in raw_results] == [DOCS[r["index"]] for r in raw_results]
    best = client.post("/rerank", json={"query": QUERY, "texts": DOCS, "top_n": 2}).json()
    assert best == results[:2]


def test_tei_truncate_and_truncation_direction(client, reranker, served):
    body = {"query": QUERY, "texts": [DOCS[1], LONG]}
    refused = client.post("/rerank", json={**body, "truncate": False})
    assert refused.status_code == 413, refused.text
    assert "texts[1]: longer than the model's max_length=32 tokens" in refused.json()["message"]
    assert '"truncate": true' in refused.json()["message"]
    short = client.post("/rerank", json={"query": QUERY, "texts": DOCS, "truncate": False})
    assert short.status_code == 200
    right = {r["index"]: r["score"] for r in client.post("/rerank", json={**body, "truncate": True}).json()}
    default = {r["index"]: r["score"] for r in client.post("/rerank", json=body).json()}
    assert default == right
    np.testing.assert_allclose(right[1], sigmoid(reranker.logits(QUERY, [LONG]))[0], atol=1e-5)
    assert served.head.docs[-1] == [DOCS[1], LONG]  # the pair encoding cuts the end
    left = client.post("/rerank", json={**body, "truncation_direction": "Left", "raw_scores": True}).json()
    kept = keep_last(reranker.head.tokenizer, [LONG], [document_room(reranker.head, QUERY)])[0]
    assert LONG.endswith(kept) and kept.endswith("free sofa") and len(kept) < len(LONG) / 3
    assert served.head.docs[-1] == [DOCS[1], kept]
    left_score = {r["index"]: r["score"] for r in left}[1]
    np.testing.assert_allclose(left_score, reranker.logits(QUERY, [kept])[0], atol=1e-5)


def test_cohere_v2_sdk_with_max_tokens_per_doc(url, reranker, served):
    cohere = pytest.importorskip("cohere", reason="the Cohere SDK is a dev dependency: pip install -e '.[dev]'")
    co = cohere.ClientV2(base_url=url, api_key="s3cret")
    answer = co.rerank(model="tiny-shapes", query=QUERY, documents=[*DOCS, LONG], top_n=3, max_tokens_per_doc=4)
    cut = keep_first(reranker.head.tokenizer, [*DOCS, LONG], [4] * 5)
    assert cut[4] == "a cordless drill" and served.head.docs[-1] == cut
    expected = reranker.rank(QUERY, cut)[:3]
    assert [r.index for r in answer.results] == [r.index for r in expected]
    np.testing.assert_allclose(
        [r.relevance_score for r in answer.results], sigmoid([r.score for r in expected]), atol=1e-5
    )
    whole = co.rerank(model="tiny-shapes", query=QUERY, documents=[*DOCS, LONG])
    scores = {r.index: r.relevance_score for r in whole.results}
    np.testing.assert_allclose(scores[4], sigmoid(reranker.logits(QUERY, [LONG]))[0], atol=1e-5)
    with pytest.raises(cohere.core.ApiError) as wrong_key:
        cohere.ClientV2(base_url=url, api_key="wrong").rerank(model="m", query=QUERY, documents=DOCS)
    assert wrong_key.value.status_code == 401


def test_cohere_v1_sdk_with_rank_fields_and_object_documents(url, reranker):
    cohere = pytest.importorskip("cohere", reason="the Cohere SDK is a dev dependency: pip install -e '.[dev]'")
    co = cohere.Client(base_url=url, api_key="s3cret")
    documents = [
        {"title": "Drill kit", "text": "cordless drill with two batteries", "sku": "p1", "price": 99.5},
        {"title": "Sofa", "text": "three seat sofa", "sku": "p2"},
        {"text": "drill bits set", "sku": "p3"},  # no title: its text alone
    ]
    answer = co.rerank(query=QUERY, documents=documents, rank_fields=["title", "text"], return_documents=True)
    texts = ["title: Drill kit\ntext: cordless drill with two batteries", "title: Sofa\ntext: three seat sofa"]
    texts.append("text: drill bits set")
    expected = reranker.rank(QUERY, texts)
    assert [r.index for r in answer.results] == [r.index for r in expected]
    np.testing.assert_allclose([r.relevance_score for r in answer.results], sigmoid([r.score for r in expected]))
    echoed = {r.index: r.document for r in answer.results}
    assert echoed[0].text == documents[0]["text"] and echoed[0].sku == "p1" and echoed[0].price == 99.5
    by_title = co.rerank(query=QUERY, documents=documents[:2], rank_fields=["title"])
    assert [r.index for r in by_title.results] == [r.index for r in reranker.rank(QUERY, ["Drill kit", "Sofa"])]
    plain = co.rerank(query=QUERY, documents=documents)  # no rank_fields: each object's text
    assert [r.index for r in plain.results] == [r.index for r in reranker.rank(QUERY, [d["text"] for d in documents])]


def test_top_n_over_the_documents_is_clamped_and_said(client):
    for body in ({"query": QUERY, "documents": DOCS, "top_n": 50}, {"query": QUERY, "texts": DOCS, "top_n": 50}):
        response = client.post("/rerank", json=body)
        assert response.status_code == 200 and response.headers["x-top-n-clamped"] == str(len(DOCS))
        results = response.json() if "texts" in body else response.json()["results"]
        assert len(results) == len(DOCS)
    assert "x-top-n-clamped" not in client.post("/rerank", json={"query": QUERY, "documents": DOCS, "top_n": 2}).headers


@pytest.mark.parametrize(
    "body,status,message",
    [
        ({"query": QUERY, "texts": ["ok", " \t"]}, 422, "texts[1]: empty or only whitespace"),
        ({"query": QUERY, "texts": ["ok", "\ud800 x"]}, 422, "texts[1]: a lone UTF-16 surrogate"),
        ({"query": "  \n", "texts": ["ok"]}, 422, "query must not be empty or only whitespace"),
        ({"query": QUERY, "texts": []}, 422, "texts must not be empty"),
        ({"query": QUERY, "texts": ["a"], "truncate": "yes"}, 422, "truncate: Input should be a valid boolean"),
        ({"query": QUERY, "texts": ["a"], "truncate": "END"}, 422, "truncate: Input should be a valid boolean"),
        (
            {"query": QUERY, "texts": ["a"], "truncation_direction": "middle"},
            422,
            "truncation_direction must be 'left' or 'right', got 'middle'",
        ),
        ({"query": QUERY, "texts": ["a"], "documents": ["a"]}, 422, "documents (Cohere / Jina shape) or texts"),
        ({"query": QUERY, "documents": ["a"], "raw_scores": True}, 422, "raw_scores belongs to TEI's"),
        ({"query": QUERY, "texts": ["a"], "return_documents": True}, 422, "return_documents belongs to Cohere's"),
        ({"query": QUERY, "documents": ["a"], "max_tokens_per_doc": 0}, 422, "max_tokens_per_doc: Input should be"),
        ({"query": QUERY, "documents": ["a"], "rank_fields": []}, 422, "rank_fields: List should have at least 1"),
        (
            {"query": QUERY, "documents": [{"title": {"a": 1}}], "rank_fields": ["title", "text"]},
            422,
            "documents[0].title: a field in rank_fields must be a string, a number or a boolean",
        ),
        (
            {"query": QUERY, "documents": ["ok", {"text": "fine", "title": "\udc00"}]},
            422,
            "documents[1].title: a lone UTF-16 surrogate (such as \\ud800), which cannot be echoed back",
        ),
        ({"query": QUERY, "documents": [{"title": "x"}]}, 422, "documents[0].text: Field required (or name"),
        ({"query": QUERY, "texts": ["a"] * 9}, 413, "9 documents, more than max_documents=8"),
    ],
)
def test_bad_input_of_each_shape(client, body, status, message):
    response = client.post("/rerank", content=json.dumps(body).encode(), headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert message in response.json()["message"]
