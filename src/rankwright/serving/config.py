"""The server's settings: batching, request limits, the timeout and the API key.

``rankwright serve`` takes every field as a flag (``--max_documents 200``); tests and
embedding code pass a :class:`ServingConfig` to :func:`rankwright.serving.create_app`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import PurePath

API_KEY_ENV = "RANKWRIGHT_API_KEY"


def model_name(model: str) -> str:
    """The name a model is served under by default: the last part of its folder or hub
    id (``runs/homedepot_binary/best`` -> ``best``), never a whole filesystem path."""
    return PurePath(str(model).replace("\\", "/").rstrip("/")).name


@dataclass
class ServingConfig:
    """What the HTTP app needs besides the model."""

    name: str = field(
        default="", metadata={"help": "model name in responses and /health; empty: the model folder's last path part"}
    )
    backend: str = field(default="torch", metadata={"help": "torch|onnx|onnx-int8: how the model is run"})
    max_batch_pairs: int = field(
        default=256, metadata={"help": "most (query, document) pairs of concurrent requests scored in one model call"}
    )
    max_wait_ms: float = field(
        default=5.0, metadata={"help": "how long the batcher waits for more requests before scoring (ms)"}
    )
    batch_size: int = field(
        default=256, metadata={"help": "most pairs per forward pass inside one model call (also at most 4096 tokens)"}
    )
    max_documents: int = field(default=1000, metadata={"help": "most documents per request (more: 413)"})
    max_document_chars: int = field(default=20_000, metadata={"help": "most characters per document (more: 413)"})
    max_query_chars: int = field(default=4_000, metadata={"help": "most characters in the query (more: 413)"})
    max_queue_requests: int = field(
        default=64,
        metadata={"help": "most requests waiting to be scored; one more gets 503 with Retry-After at once"},
    )
    request_timeout_s: float = field(
        default=30.0, metadata={"help": "seconds a request may wait and be scored before a 504"}
    )
    api_key: str | None = field(
        default=None,
        metadata={
            "help": f"require 'Authorization: Bearer KEY' on /rerank; empty: ${API_KEY_ENV} if set "
            "(better: a flag shows in the process list)"
        },
    )
    warmup: bool = field(default=True, metadata={"help": "score one pair at startup; /ready answers 200 only after it"})
    grace_period: float = field(
        default=20.0,
        metadata={
            "help": "seconds SIGTERM waits for the requests in flight before the rest get 503 and the server "
            "exits (new ones get 503 at once)"
        },
    )
    count_tokens: bool = field(default=True, metadata={"help": "report the tokens scored in usage.tokens"})

    def resolved_api_key(self) -> str | None:
        """``api_key``, else the ``RANKWRIGHT_API_KEY`` environment variable; None or
        empty: no key is required."""
        return self.api_key or os.environ.get(API_KEY_ENV) or None

    def check(self) -> None:
        """Raise a ValueError naming the first setting out of range."""
        positive = (
            "max_batch_pairs",
            "batch_size",
            "max_documents",
            "max_document_chars",
            "max_query_chars",
            "max_queue_requests",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {self.max_wait_ms}")
        if self.grace_period < 0:
            raise ValueError(f"grace_period must be >= 0, got {self.grace_period}")
        if self.request_timeout_s <= 0:
            raise ValueError(f"request_timeout_s must be > 0, got {self.request_timeout_s}")
