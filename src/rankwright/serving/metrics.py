"""Prometheus metrics of one app, in its own ``CollectorRegistry`` (two apps in one
process, e.g. in tests, never share or clash)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from rankwright.serving.batcher import BatchStats

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
PAIR_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
REQUEST_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 32, 64)


class ServerMetrics:
    """Counters and histograms of requests, batches and documents.

    - ``rankwright_requests_total{path, status}``: answered requests;
    - ``rankwright_request_latency_seconds{path}``: time to answer;
    - ``rankwright_batch_pairs`` / ``rankwright_batch_requests``: pairs and requests per model call;
    - ``rankwright_batch_seconds``: time of each model call;
    - ``rankwright_documents_scored_total``: documents of answered rerank requests;
    - ``rankwright_isolated_batches_total``: batches that failed as a whole and were
      scored again one request at a time;
    - ``rankwright_shed_requests_total{reason}``: requests dropped unscored: ``queue_full``
      (answered 503 at once), ``expired`` (their deadline passed in the queue),
      ``abandoned`` (their client left, or their wait was cancelled, before their batch);
    - ``rankwright_queue_seconds``: time each scored request waited for its batch;
    - ``rankwright_queue_depth``: requests waiting for a batch (read at scrape time).
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_depth: Callable[[], float] | None = None):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("rankwright_requests", "HTTP requests answered", ["path", "status"], registry=r)
        self.latency = Histogram(
            "rankwright_request_latency_seconds", "time to answer", ["path"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.batch_pairs = Histogram(
            "rankwright_batch_pairs", "(query, document) pairs per model call", buckets=PAIR_BUCKETS, registry=r
        )
        self.batch_requests = Histogram(
            "rankwright_batch_requests", "requests per model call", buckets=REQUEST_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "rankwright_batch_seconds", "seconds per model call", buckets=LATENCY_BUCKETS, registry=r
        )
        self.documents = Counter("rankwright_documents_scored", "documents scored", registry=r)
        self.isolated = Counter(
            "rankwright_isolated_batches",
            "batches that failed as a whole and were scored one request at a time",
            registry=r,
        )
        self.shed = Counter("rankwright_shed_requests", "requests dropped unscored, by reason", ["reason"], registry=r)
        self.queue_seconds = Histogram(
            "rankwright_queue_seconds", "seconds a request waited for its batch", buckets=LATENCY_BUCKETS, registry=r
        )
        self.queue_depth = Gauge("rankwright_queue_depth", "requests waiting for a batch", registry=r)
        if queue_depth is not None:
            self.queue_depth.set_function(queue_depth)

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        self.requests.labels(path=path, status=str(status)).inc()
        self.latency.labels(path=path).observe(seconds)

    def observe_batch(self, stats: BatchStats) -> None:
        self.batch_pairs.observe(stats.pairs)
        self.batch_requests.observe(stats.requests)
        self.batch_seconds.observe(stats.seconds)
        for seconds in stats.queue_seconds:
            self.queue_seconds.observe(seconds)
        if stats.isolated:
            self.isolated.inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
