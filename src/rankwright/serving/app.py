"""The reranking HTTP app: ``create_app(reranker, config) -> FastAPI``.

Routes:

- ``POST /rerank`` (also ``/v1/rerank`` and ``/v2/rerank``, the paths Cohere and Jina
  clients call): rank documents for a query, see :mod:`rankwright.serving.schema` for
  the body (Cohere / Jina or TEI shape, answered in the same shape:
  :mod:`rankwright.serving.shapes`) and :mod:`rankwright.serving.scoring` for what
  ``relevance_score`` is.
  Concurrent requests are scored together (:mod:`rankwright.serving.batcher`).
- ``GET /health``: model name, type, backend, state (``ok``, ``starting``, ``draining``,
  ``failed``; 503 unless ``ok``); never needs the API key.
- ``GET /ready``: the readiness probe: 200 only once the model is loaded and warmed up
  (one scoring pass), and no longer once the server drains (503).
- ``GET /metrics``: Prometheus text (:mod:`rankwright.serving.metrics`); no key either.

Errors are JSON ``{"error": kind, "message": sentence, "request_id": id}``: 401 without
the API key (when one is set), 413 over a limit (naming it and the offending
document), 422 for a body that is not a valid request (malformed JSON, wrong types,
an empty query or document list, empty or whitespace-only documents, text no tokenizer
can take, first-stage scores missing or miscounted for a fused model), 504 past
``request_timeout_s``, 503 with ``Retry-After`` at once when ``max_queue_requests``
requests already wait, 499 (logged only) when the client left before its request was
scored, 500 naming the request id if scoring fails. Every request is
checked in full before it joins a batch (:mod:`rankwright.serving.validation`), and a
batch that fails anyway is scored again one request at a time, so a request's bad
input fails that request only. None of them stops the server.

Shutdown (:mod:`rankwright.serving.lifecycle`): on SIGTERM new rerank requests get 503
``shutting_down`` with ``Retry-After`` at once, the ones in flight get up to
``grace_period`` seconds, then those left get that 503; answers while draining carry
``Connection: close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from rankwright.inference.reranker import Reranker
from rankwright.serving.batcher import Batcher, QueueFull, ShuttingDown
from rankwright.serving.config import ServingConfig, model_name
from rankwright.serving.cutting import TooLong
from rankwright.serving.errors import ERROR_KINDS, ApiError, InputError
from rankwright.serving.lifecycle import LIFECYCLE_STATE_KEY, Lifecycle
from rankwright.serving.logs import log_request
from rankwright.serving.metrics import ServerMetrics
from rankwright.serving.schema import (
    ErrorResponse,
    RerankRequest,
    RerankResponse,
    TeiResult,
    describe_validation_errors,
    jsonable_errors,
)
from rankwright.serving.scoring import Scored, ScoreJob, score_jobs, warm_up
from rankwright.serving.shapes import answer_headers, document_texts, tei_results
from rankwright.serving.validation import accepted_request_id, check_limits, check_texts, max_body_bytes
from rankwright.serving.waiting import ClientGone, await_scored, until_disconnected

log = logging.getLogger(__name__)

RERANK_PATHS = ("/rerank", "/v1/rerank", "/v2/rerank")
PROBES = ("/health", "/ready", "/metrics")
DRAINING = "the server is shutting down: send the request to another replica, or retry later"


def _error(
    request: Request,
    status: int,
    message: str,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "error": kind or ERROR_KINDS.get(status, "error"),
        "message": message,
        "request_id": getattr(request.state, "request_id", None),
        **extra,
    }
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(body, status_code=status, headers=headers)


def _authorized(request: Request, api_key: str) -> bool:
    """``Authorization: Bearer <api_key>``, compared in constant time."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())


def relevance_kind(reranker: Reranker) -> str:
    """What ``relevance_score`` is for this model (see rankwright.serving.scoring)."""
    if reranker.metadata.calibration:
        return f"calibrated ({reranker.metadata.calibration.get('method')})"
    if reranker.metadata.model_type == "bi-encoder":
        return "sigmoid of the cosine (rankwright calibrate fits probabilities)"
    if reranker.metadata.num_labels == 1:
        return "sigmoid of the logit" + (" (P(yes))" if reranker.metadata.model_type == "generative" else "")
    return "expected gain / max gain"


def build_job(reranker: Reranker, body: RerankRequest, texts: list[str]) -> ScoreJob:
    """The job of a valid request; 422 when its fusion inputs do not fit the model."""
    fusion = reranker.metadata.fusion
    first = body.first_stage_scores
    if first is not None and len(first) != len(texts):
        raise ApiError(422, f"{len(first)} first_stage_scores for {len(texts)} documents; give one per document")
    if body.fused and not fusion:
        raise ApiError(422, "fused: true, but this model has no score fusion (fit one with `rankwright fuse`)")
    use_fusion = bool(fusion) if body.fused is None else body.fused
    if use_fusion:
        try:
            reranker.check_fusion_inputs(first is not None)
        except ValueError as err:
            raise ApiError(
                422,
                f'{err}. In a request: send "first_stage_scores": [one per document], '
                'or "fused": false for the model\'s own order',
            ) from None
    job = ScoreJob(body.query, texts, first if use_fusion else None, use_fusion)
    job.max_doc_tokens = body.max_tokens_per_doc
    job.cut_left = body.tei and body.truncation_direction == "left"
    job.refuse_overlong = body.truncate is False
    job.field = "texts" if body.tei else "documents"
    return job


def build_response(request_id: str, name: str, body: RerankRequest, scored: Scored) -> dict[str, Any]:
    """The response body: results best first, cut at ``top_n``."""
    results = []
    for i in scored.order[: body.top_n or len(scored.order)]:
        result: dict[str, Any] = {"index": i, "relevance_score": float(scored.relevance[i])}
        if scored.fused is not None:
            result["fused_score"] = float(scored.fused[i])
        if body.return_documents:
            doc = body.items[i]
            result["document"] = {"text": doc} if isinstance(doc, str) else doc.fields()
        results.append(result)
    usage: dict[str, Any] = {"documents": len(scored.order)}
    if scored.tokens is not None:
        usage["tokens"] = scored.tokens
    return {"id": request_id, "model": name, "results": results, "usage": usage}


def _declared_length(request: Request) -> int:
    try:
        return int(request.headers.get("content-length", "0"))
    except ValueError:
        return 0


@dataclass
class _Served:
    """What the routes of one app share: the model, its settings and the batching worker."""

    reranker: Reranker
    config: ServingConfig
    name: str
    api_key: str | None
    backend: str | None
    batcher: Batcher[ScoreJob, Scored]
    metrics: ServerMetrics
    max_body: int
    lifecycle: Lifecycle


def _served(reranker: Reranker, config: ServingConfig) -> _Served:
    name = config.name or model_name(getattr(getattr(reranker, "model", None), "name_or_path", "")) or "rankwright"
    backend = getattr(reranker, "backend", None) or config.backend
    process = functools.partial(score_jobs, reranker, batch_size=config.batch_size, count_tokens=config.count_tokens)
    metrics = ServerMetrics(queue_depth=lambda: batcher.depth)
    batcher: Batcher[ScoreJob, Scored] = Batcher(
        process,
        max_batch_pairs=config.max_batch_pairs,
        max_wait_s=config.max_wait_ms / 1000,
        max_queue=config.max_queue_requests,
        on_batch=metrics.observe_batch,
        on_drop=lambda reason: metrics.shed.labels(reason=reason).inc(),
    )
    lifecycle = Lifecycle(config.grace_period, batcher.shed)
    api_key = config.resolved_api_key()
    return _Served(reranker, config, name, api_key, backend, batcher, metrics, max_body_bytes(config), lifecycle)


def create_app(reranker: Reranker, config: ServingConfig | None = None) -> FastAPI:
    """A FastAPI app serving ``reranker`` (see the module docstring). The batching
    worker starts and stops with the app's lifespan (uvicorn runs it), and the model warms
    up in the background meanwhile (``/ready`` says when it is done)."""
    config = config or ServingConfig()
    config.check()
    served = _served(reranker, config)
    app = FastAPI(title="rankwright reranker", lifespan=_lifespan(served))
    app.state.lifecycle = served.lifecycle
    app.state.batcher = served.batcher
    app.state.metrics = served.metrics
    app.state.reranker = reranker
    app.state.config = config
    _add_middleware(app, served)
    _add_error_handlers(app, served.max_body)
    _add_rerank(app, served)
    _add_health_and_metrics(app, served)
    return app


def _lifespan(served: _Served) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        await served.batcher.start()
        warming = asyncio.create_task(_warm_up(served), name="rankwright-warm-up")
        try:
            yield {LIFECYCLE_STATE_KEY: served.lifecycle}
        finally:
            warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warming
            await served.batcher.close()

    return lifespan


async def _warm_up(served: _Served) -> None:
    """Score one pair on the model thread (requests that come meanwhile wait behind it),
    then the app is ready; failed when the warm-up raises."""
    try:
        if served.config.warmup:
            await served.batcher.run_in_model_thread(warm_up, served.reranker)
    except Exception as err:
        log.exception("the warm-up of %s failed", served.name)
        served.lifecycle.fail(err)
        return
    served.lifecycle.set_ready()
    log.info("serving %s (%s, backend %s)", served.name, served.reranker.metadata.model_type, served.backend)


def _add_middleware(app: FastAPI, served: _Served) -> None:
    api_key, max_body, lifecycle = served.api_key, served.max_body, served.lifecycle

    @app.middleware("http")
    async def observe(request: Request, call_next):
        """Request id, API key check, metrics and the access log of every request;
        an unexpected exception becomes a 500 answer, never a dead server."""
        start = time.perf_counter()
        request_id = accepted_request_id(request.headers.get("x-request-id")) or uuid.uuid4().hex
        request.state.request_id = request_id
        path = request.url.path
        rerank = path in RERANK_PATHS
        try:
            if api_key and rerank and not _authorized(request, api_key):
                response = _error(request, 401, "missing or wrong API key: send 'Authorization: Bearer <key>'")
            elif rerank and lifecycle.draining:
                response = _error(request, 503, DRAINING, "shutting_down", {"Retry-After": "1"})
            elif rerank and _declared_length(request) > max_body:
                response = _error(request, 413, f"the request body is larger than {max_body} bytes")
            elif rerank and (why := _admitted_full(served)):  # shed before the body is read and parsed
                response = _error(request, 503, *_overloaded(served, why))
            else:
                with lifecycle.request() if rerank else contextlib.nullcontext():
                    response = await call_next(request)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, path)
            response = _error(request, 500, "internal error; see the server log")
        if lifecycle.draining:
            response.headers["Connection"] = "close"
        _record(request, response, served.metrics, time.perf_counter() - start)
        return response


def _record(request: Request, response: Response, metrics: ServerMetrics, seconds: float) -> None:
    """The request id header, the request metrics and the access log line of an answer."""
    request_id = request.state.request_id
    path = request.url.path
    response.headers["X-Request-ID"] = request_id
    route = request.scope.get("route")
    label = getattr(route, "path", None) or (path if path in (*RERANK_PATHS, *PROBES) else "other")
    metrics.observe_request(label, response.status_code, seconds)
    log_request(
        {
            "method": request.method,
            "path": path,
            "status": response.status_code,
            "latency_ms": round(seconds * 1000, 2),
            "documents": getattr(request.state, "documents", None),
            "request_id": request_id,
        }
    )


def _add_error_handlers(app: FastAPI, max_body: int) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError) -> JSONResponse:
        return _error(request, err.status, err.message, err.kind, err.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        errors = err.errors()
        message = describe_validation_errors(errors)
        content_type = request.headers.get("content-type", "")
        if "json" not in content_type.lower():
            message = f"send the body as JSON with 'Content-Type: application/json' (got {content_type or 'none'!r})"
        return _error(request, 422, message, errors=jsonable_errors(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        message = str(err.detail)
        if err.status_code == 413:
            message = f"the request body is larger than {max_body} bytes"
        return _error(request, err.status_code, message)


def _admitted_full(served: _Served) -> str | None:
    """Why a new request is shed when the requests already admitted (being read or parsed
    too, not only queued) fill the queue, else None: a burst is shed on arrival, before
    each request's body is parsed."""
    max_queue = served.batcher.max_queue
    waiting = served.batcher.waiting(served.lifecycle.in_flight)
    if max_queue is None or waiting < max_queue:
        return None
    return f"{waiting} requests are waiting, the most max_queue={max_queue} allows"


def _overloaded(served: _Served, why: str) -> tuple[str, str, dict[str, str]]:
    """A shed request's 503 message, kind and ``Retry-After`` (counted in the metrics)."""
    served.metrics.shed.labels(reason="queue_full").inc()
    retry = max(1, math.ceil(served.batcher.estimated_wait_s()))
    return f"the server is busy ({why}); retry after {retry} s", "overloaded", {"Retry-After": str(retry)}


async def _scored(served: _Served, job: ScoreJob, pairs: int, request: Request) -> Scored:
    """``job`` scored by the batching worker; each way it can fail is an :class:`ApiError`."""
    timeout_s = served.config.request_timeout_s
    try:
        waiting = served.batcher.submit(job, pairs, timeout_s=timeout_s)
        return await await_scored(
            waiting,
            timeout_s=timeout_s,
            disconnected=until_disconnected(request.receive),
            cancelled=job.cancelled,
        )
    except QueueFull as err:
        raise ApiError(503, *_overloaded(served, str(err))) from None
    except ShuttingDown as err:
        job.cancelled.set()  # the model thread skips the forward batches it has left
        raise ApiError(503, f"{err}: retry later", "shutting_down", {"Retry-After": "1"}) from None
    except TimeoutError:
        raise ApiError(504, f"the request was not scored within request_timeout_s={timeout_s:g} s") from None
    except ClientGone:
        raise ApiError(499, "the client disconnected before its request was scored") from None
    except TooLong as err:
        raise ApiError(413, str(err)) from None
    except InputError as err:
        raise ApiError(422, str(err)) from None
    except Exception as err:
        # the client gets the one-line reason; the server's log keeps the traceback
        log.error("scoring request %s failed", request.state.request_id, exc_info=err)
        raise ApiError(
            500, f"scoring request {request.state.request_id} failed: {type(err).__name__}: {err}", "scoring_failed"
        ) from None


def _add_rerank(app: FastAPI, served: _Served) -> None:
    config = served.config

    async def rerank(body: RerankRequest, request: Request) -> Response:
        """Rank ``documents`` (or TEI's ``texts``) by relevance to ``query``, best first."""
        request.state.documents = len(body.items)
        texts = document_texts(body)
        check_limits(body, texts, config)
        check_texts(body, texts)
        job = build_job(served.reranker, body, texts)
        job.deadline = time.monotonic() + config.request_timeout_s
        scored = await _scored(served, job, len(texts), request)
        served.metrics.documents.inc(len(texts))
        headers = answer_headers(served.name, body, len(texts))
        if body.tei:
            return JSONResponse(tei_results(body, scored), headers=headers)
        return JSONResponse(build_response(request.state.request_id, served.name, body, scored), headers=headers)

    errors = {code: {"model": ErrorResponse} for code in (401, 413, 422, 504)}
    for path in RERANK_PATHS:
        app.post(
            path,
            response_model=RerankResponse | list[TeiResult],
            responses=errors,
            include_in_schema=path == "/rerank",
            max_body_size=served.max_body,
        )(rerank)


def health_body(served: _Served) -> dict[str, Any]:
    """What ``GET /health`` answers: the state, the model and its limits."""
    reranker, config, lifecycle = served.reranker, served.config, served.lifecycle
    body = {
        "status": "ok" if lifecycle.ready else lifecycle.state,
        "ready": lifecycle.ready,
        "model": served.name,
        "model_type": reranker.metadata.model_type,
        "backend": served.backend,
        "num_labels": reranker.metadata.num_labels,
        "relevance_score": relevance_kind(reranker),
        "fusion": (reranker.metadata.fusion or {}).get("weights"),
        "api_key_required": bool(served.api_key),
        "limits": {
            "max_documents": config.max_documents,
            "max_document_chars": config.max_document_chars,
            "max_query_chars": config.max_query_chars,
            "request_timeout_s": config.request_timeout_s,
            "max_queue_requests": config.max_queue_requests,
            "max_body_bytes": served.max_body,
            "grace_period": config.grace_period,
        },
    }
    if lifecycle.error is not None:
        body["error"] = f"the warm-up failed: {type(lifecycle.error).__name__}: {lifecycle.error}"
    return body


def _add_health_and_metrics(app: FastAPI, served: _Served) -> None:
    lifecycle = served.lifecycle

    @app.get("/health")
    async def health() -> JSONResponse:
        """The state and what is served; 503 unless ready (starting, draining, failed)."""
        return JSONResponse(health_body(served), status_code=200 if lifecycle.ready else 503)

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """The readiness probe: 200 once the model is warmed up, 503 before and while draining."""
        body = {"ready": lifecycle.ready, "status": "ok" if lifecycle.ready else lifecycle.state}
        return JSONResponse(body, status_code=200 if lifecycle.ready else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        metrics = served.metrics
        return Response(metrics.render(), media_type=metrics.content_type)
