"""The reranking app behind a real uvicorn server: response shape and order equal to
``Reranker.rank``, probabilities, fused / calibrated / class / generative models, the
API key, limits (413), bad bodies (422), timeouts (504), failures (500), metrics and
the JSON access log -- and the server keeps answering after every error."""

from __future__ import annotations

import json
import logging
import time

import httpx
import numpy as np
import pytest

from rankwright.inference.fusion import fuse
from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata
from rankwright.serving.logs import ACCESS_LOGGER, JsonFormatter

QUERY = "cordless drill"
DOCS = [
    "cordless drill with two batteries",
    "three seat sofa",
    "garden hose 50 ft",
    "drill bits set",
    "desk lamp with led bulb",
    "electric kettle",
]


def sigmoid(x) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


@pytest.fixture(scope="module")
def reranker(tiny_cross_encoder) -> Reranker:
    return Reranker.from_pretrained(tiny_cross_encoder)


@pytest.fixture(scope="module")
def url(reranker, serving) -> str:
    with serving(reranker, name="tiny-ce", max_documents=8, max_document_chars=60, max_query_chars=40) as base:
        yield base


@pytest.fixture(scope="module")
def client(url) -> httpx.Client:
    with httpx.Client(base_url=url, timeout=30) as c:
        yield c


def post(client: httpx.Client, body, **kwargs) -> httpx.Response:
    return client.post("/rerank", json=body, **kwargs)


def test_results_are_reranker_rank_with_sigmoid_probabilities(client, reranker):
    response = post(client, {"query": QUERY, "documents": DOCS})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"id", "model", "results", "usage"}
    assert body["model"] == "tiny-ce"
    assert body["id"] == response.headers["x-request-id"]
    ranked = reranker.rank(QUERY, DOCS)
    assert [r["index"] for r in body["results"]] == [r.index for r in ranked]
    logits = reranker.logits(QUERY, DOCS)
    scores = np.array([r["relevance_score"] for r in body["results"]])
    np.testing.assert_allclose(scores, sigmoid(logits)[[r.index for r in ranked]], atol=1e-5)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert all(set(r) == {"index", "relevance_score"} for r in body["results"])  # no documents unless asked
    tokens = sum(len(f["input_ids"]) for f in reranker.head.encode([QUERY] * len(DOCS), DOCS))
    assert body["usage"] == {"documents": len(DOCS), "tokens": tokens}


def test_top_n_and_return_documents_with_ids(client, reranker):
    documents = [{"id": f"p{i}", "text": t} for i, t in enumerate(DOCS[:3])] + DOCS[3:]
    body = post(client, {"query": QUERY, "documents": documents, "top_n": 2, "return_documents": True}).json()
    best = [r.index for r in reranker.rank(QUERY, DOCS)][:2]
    assert [r["index"] for r in body["results"]] == best
    for result in body["results"]:
        i = result["index"]
        expected = {"id": f"p{i}", "text": DOCS[i]} if i < 3 else {"text": DOCS[i]}
        assert result["document"] == expected
    assert body["usage"]["documents"] == len(DOCS)  # all were scored
    everything = post(client, {"query": QUERY, "documents": DOCS, "top_n": 100}).json()
    assert len(everything["results"]) == len(DOCS)


def test_cohere_and_jina_paths_and_model_field(client):
    request = {"query": QUERY, "documents": DOCS[:3], "model": "rerank-english-v3.0"}  # model is ignored
    one = post(client, request).json()
    for path in ("/v1/rerank", "/v2/rerank"):
        other = client.post(path, json=request).json()
        assert other["results"] == one["results"]


def test_request_id_header_is_echoed(client):
    response = post(client, {"query": QUERY, "documents": DOCS[:2]}, headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["id"] == "abc-123"


@pytest.mark.parametrize(
    "body,status,message",
    [
        ({"query": QUERY, "documents": ["d"] * 9}, 413, "9 documents, more than max_documents=8"),
        (
            {"query": QUERY, "documents": ["ok", "ok", "x" * 61]},
            413,
            "documents[2] has 61 characters, more than max_document_chars=60",
        ),
        ({"query": QUERY, "documents": ["ok", {"id": "a", "text": "y" * 70}]}, 413, "documents[1] has 70 characters"),
        ({"query": "q" * 41, "documents": ["ok"]}, 413, "more than max_query_chars=40"),
        ({"query": "", "documents": ["a"]}, 422, "query: query must not be empty"),
        ({"query": "   ", "documents": ["a"]}, 422, "query must not be empty"),
        ({"query": QUERY, "documents": []}, 422, "documents must not be empty"),
        ({"documents": ["a"]}, 422, "query: Field required"),
        ({"query": QUERY}, 422, "documents: Field required"),
        ({"query": 3, "documents": ["a"]}, 422, "query: Input should be a valid string"),
        ({"query": QUERY, "documents": "a"}, 422, "documents: Input should be a valid list"),
        ({"query": QUERY, "documents": ["a", 7]}, 422, 'documents[1]: must be a string or an object {"text"'),
        ({"query": QUERY, "documents": [{"id": "x"}]}, 422, "documents[0].text: Field required"),
        (
            {"query": QUERY, "documents": [{"text": "a", "title": "b"}], "rank_fields": ["name"]},
            422,
            "documents[0]: has none of rank_fields ['name']",
        ),
        ({"query": QUERY, "documents": ["a"], "top_n": 0}, 422, "top_n: Input should be greater than or equal to 1"),
        ({"query": QUERY, "documents": ["a"], "top_n": "2"}, 422, "top_n: Input should be a valid integer"),
        ({"query": QUERY, "documents": ["a"], "top_k": 2}, 422, "top_k: unknown field"),
        ({"query": QUERY, "documents": ["a"], "return_documents": "yes"}, 422, "return_documents: Input should be"),
        (
            {"query": QUERY, "documents": ["a", "b"], "first_stage_scores": [1.0]},
            422,
            "1 first_stage_scores for 2 documents; give one per document",
        ),
        ({"query": QUERY, "documents": ["a"], "fused": True}, 422, "this model has no score fusion"),
        ([QUERY, "a"], 422, "the body must be a JSON object with query and documents"),
    ],
)
def test_bad_requests_are_answered_with_the_reason(client, body, status, message):
    response = post(client, body)
    assert response.status_code == status, response.text
    answer = response.json()
    assert message in answer["message"]
    assert answer["error"] == {413: "too_large", 422: "invalid_request"}[status]
    assert answer["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    "content,content_type,message",
    [
        (b'{"query": "x", "documents": ["a"', "application/json", "the body is not valid JSON"),
        (b"", "application/json", "the body is empty"),
        (
            b'{"query": "x", "documents": ["a"], "first_stage_scores": [NaN]}',
            "application/json",
            "first_stage_scores[0]: Input should be a finite number",
        ),
        (b'{"query": "x", "documents": ["a"]}', "text/plain", "Content-Type: application/json"),
    ],
)
def test_malformed_bodies_are_422(client, content, content_type, message):
    response = client.post("/rerank", content=content, headers={"content-type": content_type})
    assert response.status_code == 422, response.text
    assert message in response.json()["message"]


def test_a_body_over_the_size_limit_is_413_before_it_is_read(client):
    big = json.dumps({"query": QUERY, "documents": ["d" * 50] * 2000}).encode()  # over 8 documents' worth of bytes
    response = client.post("/rerank", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "the request body is larger than" in response.json()["message"]


def test_the_server_still_answers_after_bad_requests(client):
    post(client, {"query": "", "documents": []})
    client.post("/rerank", content=b"{", headers={"content-type": "application/json"})
    post(client, {"query": QUERY, "documents": ["d"] * 50})
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["ready"] is True
    assert post(client, {"query": QUERY, "documents": DOCS[:2]}).status_code == 200


def test_health_describes_the_model(client):
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["model"] == "tiny-ce"
    assert health["model_type"] == "cross-encoder"
    assert health["backend"] == "torch"
    assert health["num_labels"] == 1
    assert health["relevance_score"] == "sigmoid of the logit"
    assert health["api_key_required"] is False
    assert health["limits"]["max_documents"] == 8


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics:\n{text}")


def test_metrics_count_requests_documents_and_batches(reranker, serving):
    with serving(reranker, max_documents=8) as base, httpx.Client(base_url=base) as c:
        for n in (2, 3, 4):
            assert c.post("/rerank", json={"query": QUERY, "documents": DOCS[:n]}).status_code == 200
        c.post("/rerank", json={"query": "", "documents": ["a"]})
        c.post("/rerank", json={"query": QUERY, "documents": ["a"] * 9})
        c.get("/health")
        response = c.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _metric(text, 'rankwright_requests_total{path="/rerank",status="200"}') == 3
    assert _metric(text, 'rankwright_requests_total{path="/rerank",status="422"}') == 1
    assert _metric(text, 'rankwright_requests_total{path="/rerank",status="413"}') == 1
    assert _metric(text, 'rankwright_requests_total{path="/health",status="200"}') == 1
    assert _metric(text, 'rankwright_request_latency_seconds_count{path="/rerank"}') == 5
    assert _metric(text, "rankwright_documents_scored_total") == 9
    assert _metric(text, "rankwright_batch_pairs_sum") == 9  # sequential requests: one model call each
    assert _metric(text, "rankwright_batch_requests_count") == 3
    assert _metric(text, "rankwright_queue_depth") == 0


def test_one_json_access_log_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        post(client, {"query": QUERY, "documents": DOCS[:3]}, headers={"X-Request-ID": "log-me"})
        post(client, {"query": "", "documents": ["a"]}, headers={"X-Request-ID": "log-bad"})
        deadline = time.monotonic() + 5
        while len([r for r in caplog.records if r.name == ACCESS_LOGGER]) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    records = {r.fields["request_id"]: r for r in caplog.records if r.name == ACCESS_LOGGER}
    good, bad = records["log-me"], records["log-bad"]
    line = json.loads(JsonFormatter().format(good))
    assert {k: line[k] for k in ("method", "path", "status", "documents", "request_id")} == {
        "method": "POST",
        "path": "/rerank",
        "status": 200,
        "documents": 3,
        "request_id": "log-me",
    }
    assert line["latency_ms"] > 0 and line["level"] == "INFO" and "time" in line
    assert bad.fields["status"] == 422 and bad.fields["documents"] is None


# -- other model kinds --------------------------------------------------------------------


def test_a_calibrated_model_reports_calibrated_probabilities(calibrated_dir, serving):
    reranker = Reranker.from_pretrained(calibrated_dir)
    calibration = ModelMetadata.load(calibrated_dir).calibration
    logits = reranker.logits(QUERY, DOCS)
    ranked = reranker.rank(QUERY, DOCS)
    with serving(reranker) as base:
        body = httpx.post(f"{base}/rerank", json={"query": QUERY, "documents": DOCS}).json()
        health = httpx.get(f"{base}/health").json()
    assert [r["index"] for r in body["results"]] == [r.index for r in ranked]
    expected = sigmoid(calibration["a"] * logits + calibration["b"])
    got = {r["index"]: r["relevance_score"] for r in body["results"]}
    np.testing.assert_allclose([got[i] for i in range(len(DOCS))], expected, atol=1e-5)
    assert not np.allclose(expected, sigmoid(logits), atol=1e-3)  # not the plain sigmoid
    assert health["relevance_score"] == "calibrated (platt)"


def test_a_class_model_reports_expected_gain_over_max_gain(class_dir, serving):
    reranker = Reranker.from_pretrained(class_dir)
    logits = reranker.logits(QUERY, DOCS)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    class_gains = ModelMetadata.load(class_dir).labels["class_gains"]
    gains = np.array([class_gains[c] for c in reranker.metadata.classes], dtype=float)
    assert sorted(gains.tolist()) == [0.0, 1.0, 3.0]
    expected = probs @ gains / gains.max()
    with serving(reranker) as base:
        body = httpx.post(f"{base}/rerank", json={"query": QUERY, "documents": DOCS}).json()
    assert [r["index"] for r in body["results"]] == [r.index for r in reranker.rank(QUERY, DOCS)]
    got = {r["index"]: r["relevance_score"] for r in body["results"]}
    np.testing.assert_allclose([got[i] for i in range(len(DOCS))], expected, atol=1e-5)
    assert all(0 <= v <= 1 for v in got.values())


def test_a_generative_model_is_served_with_p_yes(generative_dir, serving):
    reranker = Reranker.from_pretrained(generative_dir)
    assert reranker.metadata.model_type == "generative"
    logits = reranker.logits(QUERY, DOCS)
    ranked = reranker.rank(QUERY, DOCS)
    with serving(reranker, name="tiny-llama") as base:
        body = httpx.post(f"{base}/rerank", json={"query": QUERY, "documents": DOCS, "top_n": 4}, timeout=60).json()
        health = httpx.get(f"{base}/health").json()
    assert [r["index"] for r in body["results"]] == [r.index for r in ranked][:4]
    np.testing.assert_allclose(
        [r["relevance_score"] for r in body["results"]], sigmoid(logits)[[r.index for r in ranked][:4]], atol=1e-5
    )
    np.testing.assert_allclose(
        [r["relevance_score"] for r in body["results"]], [r.score for r in ranked][:4], atol=1e-5
    )
    assert health["model_type"] == "generative"
    assert health["relevance_score"] == "sigmoid of the logit (P(yes))"
    assert body["usage"]["tokens"] > len(DOCS) * 10  # the prompt's tokens are counted


def test_a_fused_model_ranks_by_the_fused_score_of_the_first_stage_scores(fused_dir, serving):
    reranker = Reranker.from_pretrained(fused_dir)
    fusion = ModelMetadata.load(fused_dir).fusion
    assert fusion["weights"] == {"reranker": 0.2, "first_stage": 0.8}
    own = reranker.score(QUERY, DOCS, fused=False)
    first = (-own + np.linspace(0, 0.01, len(DOCS))).tolist()  # the first stage disagrees with the model
    fused = fuse({"reranker": own, "first_stage": np.array(first)}, [QUERY] * len(DOCS), fusion)
    logits = reranker.logits(QUERY, DOCS)
    request = {"query": QUERY, "documents": DOCS}
    with serving(reranker) as base, httpx.Client(base_url=base) as c:
        missing = c.post("/rerank", json=request)
        miscounted = c.post("/rerank", json={**request, "first_stage_scores": first[:2]})
        body = c.post("/rerank", json={**request, "first_stage_scores": first}).json()
        own_order = c.post("/rerank", json={**request, "fused": False}).json()
        health = c.get("/health").json()
    assert missing.status_code == 422
    assert "needs first_stage scores (weight 0.8)" in missing.json()["message"]
    assert '"first_stage_scores"' in missing.json()["message"]
    assert miscounted.status_code == 422
    assert "2 first_stage_scores for 6 documents" in miscounted.json()["message"]
    order = np.argsort(-fused, kind="stable").tolist()
    assert [r["index"] for r in body["results"]] == order
    assert order == [r.index for r in reranker.rank(QUERY, DOCS, first_stage_scores=first)]
    assert order != np.argsort(-own, kind="stable").tolist()  # not the model's own order
    np.testing.assert_allclose([r["fused_score"] for r in body["results"]], fused[order], atol=1e-6)
    np.testing.assert_allclose([r["relevance_score"] for r in body["results"]], sigmoid(logits)[order], atol=1e-5)
    assert [r["index"] for r in own_order["results"]] == np.argsort(-own, kind="stable").tolist()
    assert all("fused_score" not in r for r in own_order["results"])
    assert health["fusion"] == fusion["weights"]


# -- API key, timeouts, failures -------------------------------------------------------------


def test_the_api_key_is_required_on_rerank_only(reranker, serving):
    request = {"query": QUERY, "documents": DOCS[:2]}
    with serving(reranker, api_key="s3cret-key") as base, httpx.Client(base_url=base) as c:
        none = c.post("/rerank", json=request)
        wrong = c.post("/rerank", json=request, headers={"Authorization": "Bearer s3cret-kez"})
        basic = c.post("/rerank", json=request, headers={"Authorization": "Basic s3cret-key"})
        unauthenticated_bad_body = c.post("/v1/rerank", content=b"{", headers={"content-type": "application/json"})
        good = c.post("/rerank", json=request, headers={"Authorization": "Bearer s3cret-key"})
        health = c.get("/health")
        metrics = c.get("/metrics")
    for response in (none, wrong, basic, unauthenticated_bad_body):
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        assert "Authorization: Bearer" in response.json()["message"]
        assert response.headers["www-authenticate"] == "Bearer"
    assert good.status_code == 200 and len(good.json()["results"]) == 2
    assert health.status_code == 200 and health.json()["api_key_required"] is True
    assert metrics.status_code == 200


def test_the_api_key_can_come_from_the_environment(reranker, serving, monkeypatch):
    monkeypatch.setenv("RANKWRIGHT_API_KEY", "from-env")
    request = {"query": QUERY, "documents": DOCS[:2]}
    with serving(reranker) as base:
        assert httpx.post(f"{base}/rerank", json=request).status_code == 401
        ok = httpx.post(f"{base}/rerank", json=request, headers={"Authorization": "Bearer from-env"})
        assert ok.status_code == 200


class SlowReranker:
    """A reranker whose model calls take ``delay`` seconds (or fail with ``error``)."""

    def __init__(self, inner: Reranker, delay: float = 0.0, error: Exception | None = None):
        self._inner, self.delay, self.error = inner, delay, error
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def _model_call(self) -> None:
        self.calls += 1
        time.sleep(self.delay)
        if self.error is not None and self.calls > 1:  # the first call is the warm-up
            raise self.error

    def logits(self, queries, docs, **kwargs):
        self._model_call()
        return self._inner.logits(queries, docs, **kwargs)

    def logits_of_features(self, features, **kwargs):
        self._model_call()
        return self._inner.logits_of_features(features, **kwargs)


def test_a_request_over_the_timeout_is_504_and_the_server_stays_up(reranker, serving):
    slow = SlowReranker(reranker, delay=0.6)
    with serving(slow, request_timeout_s=0.2) as base, httpx.Client(base_url=base) as c:
        start = time.perf_counter()
        response = c.post("/rerank", json={"query": QUERY, "documents": DOCS})
        waited = time.perf_counter() - start
        assert response.status_code == 504
        assert response.json() == {
            "error": "timeout",
            "message": "the request was not scored within request_timeout_s=0.2 s",
            "request_id": response.headers["x-request-id"],
        }
        assert waited < 0.55  # answered at the timeout, not when scoring ended
        assert c.get("/health").status_code == 200
        time.sleep(0.7)  # the abandoned batch finishes; the next request is scored
        slow.delay = 0.0
        assert c.post("/rerank", json={"query": QUERY, "documents": DOCS}).status_code == 200


def test_a_scoring_failure_is_500_and_the_server_stays_up(reranker, serving):
    failing = SlowReranker(reranker, error=RuntimeError("the model broke"))
    with serving(failing) as base, httpx.Client(base_url=base) as c:
        response = c.post("/rerank", json={"query": QUERY, "documents": DOCS})
        assert response.status_code == 500
        assert response.json()["error"] == "scoring_failed"
        assert "RuntimeError: the model broke" in response.json()["message"]
        assert c.get("/health").json()["ready"] is True
        metrics = c.get("/metrics").text
    assert _metric(metrics, 'rankwright_requests_total{path="/rerank",status="500"}') == 1
