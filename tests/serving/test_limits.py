"""Limits before parsing: the body-size limit follows the document limits and is
enforced while the body is read (413 before any JSON parsing, also for a chunked body
without Content-Length); X-Request-ID is taken only when it is 1 to 128 printable ASCII
characters; the served name is ``--name``, by default the model folder's last path
part, never a filesystem path."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from rankwright.inference.reranker import Reranker
from rankwright.serving.config import model_name
from rankwright.serving.validation import accepted_request_id

REQUEST = {"query": "cordless drill", "documents": ["drill kit", "sofa"]}


@pytest.fixture(scope="module")
def reranker(tiny_cross_encoder) -> Reranker:
    return Reranker.from_pretrained(tiny_cross_encoder)


@pytest.fixture(scope="module")
def url(reranker, serving) -> str:
    with serving(reranker, max_documents=8, max_document_chars=60, max_query_chars=40) as base:
        yield base


def test_the_body_limit_follows_the_document_limits(url):
    limits = httpx.get(f"{url}/health").json()["limits"]
    assert limits["max_body_bytes"] == 8 * (60 * 4 + 256) + 40 * 4 + 65_536


def chunks(total: int, size: int = 16_384):
    """A body of ``total`` bytes that is not valid JSON, sent in chunks (no Content-Length)."""
    yield b'{"query": "x", "documents": ["'
    for _ in range(total // size):
        yield b"d" * size


def test_a_chunked_body_over_the_limit_is_413_while_it_is_read_not_422(url):
    with httpx.Client(base_url=url, timeout=30) as client:
        response = client.post("/rerank", content=chunks(2_000_000), headers={"content-type": "application/json"})
        assert response.status_code == 413, response.text
        assert f"the request body is larger than {8 * (60 * 4 + 256) + 40 * 4 + 65_536} bytes" in response.text
        small = client.post(
            "/rerank",
            content=iter([b'{"query": "x", ', b'"documents": ["a", "b"]}']),
            headers={"content-type": "application/json"},
        )
        assert small.status_code == 200, small.text
        assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    "header,kept",
    [
        ("abc-123", True),
        ("a" * 128, True),
        ("req 7/x:y=z", True),
        ("a" * 129, False),
        (b"caf\xc3\xa9", False),
        ("tab\there", False),
    ],
)
def test_x_request_id_is_taken_only_when_short_printable_ascii(url, header, kept):
    response = httpx.post(f"{url}/rerank", json=REQUEST, headers={"X-Request-ID": header})
    assert response.status_code == 200
    given = header.decode("latin-1") if isinstance(header, bytes) else header
    if kept:
        assert response.headers["x-request-id"] == given == response.json()["id"]
    else:
        generated = response.headers["x-request-id"]
        assert generated != given and len(generated) == 32 and int(generated, 16) >= 0
        assert response.json()["id"] == generated


def test_accepted_request_id():
    assert accepted_request_id(None) is None and accepted_request_id("") is None and accepted_request_id("  ") is None
    assert accepted_request_id("x" * 128) == "x" * 128 and accepted_request_id("x" * 129) is None
    assert accepted_request_id("a\x00b") is None and accepted_request_id("\u00e9") is None


def test_the_default_name_is_the_model_folders_last_part(reranker, serving, tiny_cross_encoder):
    with serving(reranker) as base:
        health = httpx.get(f"{base}/health").json()
        response = httpx.post(f"{base}/rerank", json=REQUEST).json()
    assert health["model"] == response["model"] == Path(tiny_cross_encoder).name
    assert "/" not in health["model"]


@pytest.mark.parametrize(
    "model,name",
    [
        ("runs/hd/best", "best"),
        ("/home/me/runs/hd/best/", "best"),
        ("C:\\models\\reranker", "reranker"),
        ("BAAI/bge-reranker-base", "bge-reranker-base"),
        ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),
    ],
)
def test_model_name(model, name):
    assert model_name(model) == name
