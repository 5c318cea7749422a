"""Isolation of requests: each is checked in full before it joins a batch (empty or
whitespace-only documents and text no tokenizer can take are 422 naming each bad
index), and a batch that fails anyway is scored again one request at a time, so only
the failing request gets an error (422 for its input, else 500 naming its id) while the
good requests batched with it get their scores."""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
import pytest

from rankwright.inference.reranker import Reranker
from rankwright.serving.batcher import Batcher

QUERY = "cordless drill"
GOOD = [
    {"query": f"best {w}", "documents": [f"{w} model {j}" for j in range(3)] + ["three seat sofa"]}
    for w in ("drill", "lamp", "kettle", "hose", "fan")
]
POISON = "poisoned-text"


@pytest.fixture(scope="module")
def reranker(tiny_cross_encoder) -> Reranker:
    return Reranker.from_pretrained(tiny_cross_encoder)


def post_raw(client: httpx.Client, body: dict) -> httpx.Response:
    """``body`` as JSON with ASCII escapes (a lone surrogate as ``\\ud800``)."""
    return client.post("/rerank", content=json.dumps(body).encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    "body,message",
    [
        ({"query": QUERY, "documents": ["ok", ""]}, "documents[1]: empty or only whitespace"),
        (
            {"query": QUERY, "documents": [" \n\t", "ok", {"id": "x", "text": "  "}]},
            "documents[0], documents[2]: empty or only whitespace",
        ),
        ({"query": "\ud800 broken", "documents": ["ok"]}, "query: a lone UTF-16 surrogate (such as \\ud800)"),
        (
            {"query": QUERY, "documents": ["ok", "\ud800 broken", "fine", "\udfff"]},
            "documents[1], documents[3]: a lone UTF-16 surrogate (such as \\ud800), which no tokenizer can take",
        ),
        (
            {"query": QUERY, "documents": ["ok", {"id": "\ud801", "text": "fine"}]},
            "documents[1].id: a lone UTF-16 surrogate",
        ),
    ],
)
def test_texts_no_model_can_score_are_422_naming_each(reranker, serving, body, message):
    with serving(reranker) as base, httpx.Client(base_url=base, timeout=30) as client:
        response = post_raw(client, body)
        assert response.status_code == 422, response.text
        assert message in response.json()["message"]
        assert response.json()["error"] == "invalid_request"
        assert post_raw(client, GOOD[0]).status_code == 200


class PoisonHead:
    """The model's head, but encoding a batch holding ``POISON`` fails: like a tokenizer
    refusing one request's text (``error``: the exception it raises)."""

    def __init__(self, head, error: type[Exception]):
        self._head, self.error = head, error

    def __getattr__(self, name):
        return getattr(self._head, name)

    def encode(self, queries, docs):
        if any(POISON in d for d in docs):
            raise self.error(f"cannot encode {POISON}")
        return self._head.encode(queries, docs)


class PoisonedReranker:
    """A reranker whose head is a :class:`PoisonHead`; counts the pairs of each batch."""

    def __init__(self, inner: Reranker, error: type[Exception]):
        self._inner = inner
        self.head = PoisonHead(inner.head, error)
        self.batches: list[int] = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def logits_of_features(self, features, **kwargs):
        self.batches.append(len(features))
        return self._inner.logits_of_features(features, **kwargs)


@pytest.mark.parametrize("error,status", [(TypeError, 422), (RuntimeError, 500)])
def test_a_poisoned_request_fails_alone_and_the_good_ones_batched_with_it_get_200(
    reranker, serving, error, status, caplog
):
    poisoned = PoisonedReranker(reranker, error)
    bad = {"query": QUERY, "documents": ["drill kit", f"a {POISON} here", "sofa"]}
    requests = [*GOOD[:3], bad, *GOOD[3:]]
    with serving(poisoned, max_wait_ms=400, max_batch_pairs=1000) as base:
        poisoned.batches.clear()  # the warm-up

        async def send_all():
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                return await asyncio.gather(
                    *(client.post("/rerank", json=r, headers={"X-Request-ID": f"r{i}"}) for i, r in enumerate(requests))
                )

        responses = asyncio.run(send_all())
        metrics = httpx.get(f"{base}/metrics").text
    statuses = [r.status_code for r in responses]
    assert statuses == [200, 200, 200, status, 200, 200], [r.text for r in responses]
    answer = responses[3].json()
    if status == 422:
        assert "cannot take documents[1]" in answer["message"] and answer["error"] == "invalid_request"
    else:
        assert "scoring request r3 failed: RuntimeError" in answer["message"] and answer["error"] == "scoring_failed"
        # the server's log keeps the traceback the client is not sent
        failed = [r for r in caplog.records if r.getMessage() == "scoring request r3 failed"]
        assert len(failed) == 1 and failed[0].exc_info is not None and failed[0].exc_info[0] is RuntimeError
    for request, response in zip(requests, responses, strict=True):
        if response.status_code != 200:
            continue
        results = response.json()["results"]
        expected = 1 / (1 + np.exp(-reranker.logits(request["query"], request["documents"]).astype(np.float64)))
        np.testing.assert_allclose(
            [r["relevance_score"] for r in results], expected[[r["index"] for r in results]], atol=1e-5
        )
    assert "rankwright_isolated_batches_total 1.0" in metrics  # the batch failed once, then one by one


def test_the_batcher_scores_a_failed_batch_one_job_at_a_time():
    calls: list[list] = []

    def process(jobs):
        calls.append(list(jobs))
        if "poison" in jobs:
            raise ValueError("bad input")
        return [j * 2 for j in jobs]

    async def main():
        batcher = Batcher(process, max_batch_pairs=100, max_wait_s=0.2)
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit(j, 1) for j in ("a", "poison", "b")), return_exceptions=True)
        await batcher.close()
        return results

    results = asyncio.run(main())
    assert results[0] == "aa" and results[2] == "bb"
    assert isinstance(results[1], ValueError) and str(results[1]) == "bad input"
    assert calls == [["a", "poison", "b"], ["a"], ["poison"], ["b"]]
