"""Load test of ``rankwright serve``: a real server subprocess on loopback, N concurrent
clients for T seconds.

Requests: 20 documents each, built from Home Depot (query, product_title) pairs: a
query's own products (about 6) filled up with titles of other queries' products
(seeded), in a seeded shuffle of queries. Phase ``good`` sends only those and reports
latency percentiles (p50/p95/p99), requests/s, documents/s and errors, with the
server's own batch statistics from /metrics. Phase ``mixed`` replaces every
``--bad-every``-th request with a bad one (malformed JSON, wrong types, an empty query,
no documents, an unknown field, too many documents, a document too long, a fused-only
field on a plain model) and reports that every bad request got its 4xx, every good
one a 200, and that /health kept answering (polled during the phase and after it).

The clients and the server share the machine's cores: the numbers are for this
machine as a whole (see ``machine`` in the output), not for the server alone.

    python bench/serve_load.py                         # MiniLM, fresh head; writes bench/results/serve_load.json
    python bench/serve_load.py --model runs/bench_recipe/hdall/reranker/best --seconds 60
    python bench/serve_load.py --seconds 10 --out /tmp/serve_load.json   # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, machine

HD = SHARED_DATA / "homedepot" / "train.csv.zip"
MAX_DOCUMENTS = 100
MAX_DOCUMENT_CHARS = 2000


def build_requests(n_docs: int, n_requests: int, seed: int) -> list[dict]:
    """``n_requests`` bodies of ``n_docs`` documents: each query's own product titles,
    filled with other products' titles (a query with more keeps its first ``n_docs``)."""
    frame = pd.read_csv(HD, encoding="latin-1", usecols=["search_term", "product_title"])
    titles = frame["product_title"].astype(str).unique().tolist()
    groups = frame.groupby("search_term", sort=True)["product_title"].apply(lambda s: s.astype(str).tolist())
    rng = random.Random(seed)
    queries = list(groups.index)
    rng.shuffle(queries)
    bodies = []
    for query in queries[:n_requests]:
        docs = groups[query][:n_docs]
        while len(docs) < n_docs:
            docs.append(rng.choice(titles))
        rng.shuffle(docs)
        bodies.append({"query": str(query), "documents": docs})
    return bodies


def add_first_stage_scores(bodies: list[dict]) -> None:
    """Each body's ``first_stage_scores``: BM25 (rankwright's, default settings) of its
    documents over an index of every title the requests hold."""
    from rankwright.retrieval.bm25 import BM25

    titles = sorted({d for body in bodies for d in body["documents"]})
    bm25 = BM25({str(i): t for i, t in enumerate(titles)}, progress=False)
    row = {t: i for i, t in enumerate(titles)}
    for body in bodies:
        scores = bm25.query_scores(body["query"])
        rows = bm25.rows_of([str(row[d]) for d in body["documents"]])
        body["first_stage_scores"] = [round(float(x), 4) for x in scores[rows]]


def bad_requests(good: dict) -> list[tuple[str, bytes, int]]:
    """(kind, body bytes, expected status) of requests the server must refuse."""
    dump = lambda body: json.dumps(body).encode()  # noqa: E731
    return [
        ("malformed_json", dump(good)[:-7], 422),
        ("wrong_types", dump({"query": good["query"], "documents": [1, 2, 3]}), 422),
        ("empty_query", dump({"query": "  ", "documents": good["documents"]}), 422),
        ("no_documents", dump({"query": good["query"], "documents": []}), 422),
        ("unknown_field", dump({**good, "top_k": 3}), 422),
        ("top_n_zero", dump({**good, "top_n": 0}), 422),
        ("too_many_documents", dump({"query": good["query"], "documents": ["d"] * (MAX_DOCUMENTS + 1)}), 413),
        ("document_too_long", dump({"query": good["query"], "documents": ["x" * (MAX_DOCUMENT_CHARS + 1)]}), 413),
        ("miscounted_first_stage", dump({**good, "first_stage_scores": [1.0]}), 422),
    ]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    documents: int = 0
    good_ok: int = 0
    good_failed: list[str] = field(default_factory=list)
    bad: dict[str, dict[str, int]] = field(default_factory=dict)
    bad_wrong: list[str] = field(default_factory=list)
    health: list[float] = field(default_factory=list)
    health_failed: int = 0
    bad_sent: int = 0


async def client_loop(
    client: httpx.AsyncClient,
    bodies: list[dict],
    deadline: float,
    tally: Tally,
    worker: int,
    clients: int,
    bad_every: int,
) -> None:
    """One client: send requests back to back until ``deadline``; with ``bad_every``,
    every ``bad_every``-th of this client's requests is a bad one (kinds in turn)."""
    k = 0
    while time.perf_counter() < deadline:
        body = bodies[(worker + k * clients) % len(bodies)]
        is_bad = bad_every > 0 and (k + worker) % bad_every == bad_every - 1
        if is_bad:
            cases = bad_requests(body)
            kind, content, expected = cases[tally.bad_sent % len(cases)]  # kinds in turn across clients
            tally.bad_sent += 1
        else:
            content, expected, kind = json.dumps(body).encode(), 200, "good"
        k += 1
        start = time.perf_counter()
        try:
            response = await client.post("/rerank", content=content, headers={"content-type": "application/json"})
            status = response.status_code
        except httpx.HTTPError as err:
            status, response = -1, None
            detail = f"{type(err).__name__}: {err}"
        seconds = time.perf_counter() - start
        if not is_bad:
            if status == 200 and len(response.json()["results"]) == len(body["documents"]):
                tally.good_ok += 1
                tally.latencies.append(seconds)
                tally.documents += len(body["documents"])
            else:
                tally.good_failed.append(f"{status}: {response.text[:200] if response is not None else detail}")
        else:
            counts = tally.bad.setdefault(kind, {"sent": 0, "expected_status": expected, "got_expected": 0})
            counts["sent"] += 1
            if status == expected:
                counts["got_expected"] += 1
            else:
                tally.bad_wrong.append(f"{kind}: got {status}, expected {expected}")


async def health_loop(client: httpx.AsyncClient, deadline: float, tally: Tally) -> None:
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        try:
            ok = (await client.get("/health")).status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            tally.health.append(time.perf_counter() - start)
        else:
            tally.health_failed += 1
        await asyncio.sleep(0.5)


def percentiles_ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    ms = np.asarray(values) * 1000
    return {
        "p50": round(float(np.percentile(ms, 50)), 1),
        "p95": round(float(np.percentile(ms, 95)), 1),
        "p99": round(float(np.percentile(ms, 99)), 1),
        "mean": round(float(ms.mean()), 1),
        "max": round(float(ms.max()), 1),
    }


def scrape(base: str) -> dict[str, float]:
    """The server's unlabelled counters and histogram sums/counts from /metrics."""
    out = {}
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("rankwright_") and "{" not in line.split(" ")[0]:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def batch_stats(before: dict[str, float], after: dict[str, float]) -> dict[str, float | None]:
    calls = after["rankwright_batch_requests_count"] - before.get("rankwright_batch_requests_count", 0)
    if not calls:
        return {"model_calls": 0, "mean_requests_per_call": None, "mean_pairs_per_call": None}
    requests = after["rankwright_batch_requests_sum"] - before.get("rankwright_batch_requests_sum", 0)
    pairs = after["rankwright_batch_pairs_sum"] - before.get("rankwright_batch_pairs_sum", 0)
    seconds = after["rankwright_batch_seconds_sum"] - before.get("rankwright_batch_seconds_sum", 0)
    return {
        "model_calls": int(calls),
        "mean_requests_per_call": round(requests / calls, 2),
        "mean_pairs_per_call": round(pairs / calls, 1),
        "mean_model_call_ms": round(seconds / calls * 1000, 1),
    }


async def run_phase(base: str, bodies: list[dict], clients: int, seconds: float, bad_every: int) -> dict:
    tally = Tally()
    before = scrape(base)
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(
            health_loop(client, deadline, tally),
            *(client_loop(client, bodies, deadline, tally, w, clients, bad_every) for w in range(clients)),
        )
        wall = time.perf_counter() - start
        health_after = (await client.get("/health")).status_code
    after = scrape(base)
    result = {
        "seconds": round(wall, 2),
        "clients": clients,
        "good_requests": tally.good_ok + len(tally.good_failed),
        "good_200": tally.good_ok,
        "errors": len(tally.good_failed),
        "error_examples": tally.good_failed[:5],
        "latency_ms": percentiles_ms(tally.latencies),
        "requests_per_s": round(tally.good_ok / wall, 2),
        "documents_per_s": round(tally.documents / wall, 1),
        "server_batches": batch_stats(before, after),
        "health_polls": {
            "ok": len(tally.health),
            "failed": tally.health_failed,
            "latency_ms": percentiles_ms(tally.health),
            "after_phase_status": health_after,
        },
    }
    if bad_every:
        sent = sum(c["sent"] for c in tally.bad.values())
        result["bad_requests"] = {
            "sent": sent,
            "got_expected_4xx": sum(c["got_expected"] for c in tally.bad.values()),
            "by_kind": tally.bad,
            "wrong": tally.bad_wrong[:10],
        }
        result["all_bad_got_4xx"] = not tally.bad_wrong and sent > 0
        result["all_good_got_200"] = not tally.good_failed and tally.good_ok > 0
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args, port: int, log_path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "rankwright.cli", "serve", "--model", args.model, "--port", str(port)]
    command += ["--max_documents", str(MAX_DOCUMENTS), "--max_document_chars", str(MAX_DOCUMENT_CHARS)]
    command += ["--max_wait_ms", str(args.max_wait_ms), "--max_batch_pairs", str(args.max_batch_pairs)]
    command += ["--log_level", "warning", *args.server_args]
    env = {**os.environ, "RANKWRIGHT_API_KEY": "", "TOKENIZERS_PARALLELISM": "false"}
    with open(log_path, "w") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)


def wait_healthy(base: str, process: subprocess.Popen, log_path: Path, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rankwright serve exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            response = httpx.get(f"{base}/health", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"no /health within {timeout} s:\n{log_path.read_text()[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="model folder or packaged name (fresh head)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each phase")
    parser.add_argument("--documents", type=int, default=20, help="documents per request")
    parser.add_argument("--bad-every", type=int, default=4, help="mixed phase: every n-th request is bad")
    parser.add_argument("--max-wait-ms", dest="max_wait_ms", type=float, default=5.0)
    parser.add_argument("--max-batch-pairs", dest="max_batch_pairs", type=int, default=256)
    parser.add_argument("--warmup-seconds", type=float, default=3.0, help="unmeasured load before the phases")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--fused",
        choices=["auto", "false"],
        default="auto",
        help="a fused model: auto = rank by its fusion (BM25 first_stage_scores sent when it weights them); "
        "false = send fused: false (the model's own score only)",
    )
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "serve_load.json"))
    parser.add_argument("server_args", nargs="*", help="more `rankwright serve` flags (after --)")
    args = parser.parse_args()

    bodies = build_requests(args.documents, 2000, args.seed)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.mkdtemp(prefix="serve_load_")) / "server.log"
    process = start_server(args, port, log_path)
    try:
        t0 = time.perf_counter()
        health = wait_healthy(base, process, log_path)
        startup = time.perf_counter() - t0
        print(f"server up in {startup:.1f} s: {health['model']} ({health['model_type']}, {health['backend']})")
        fusion = health.get("fusion") or {}
        if fusion and args.fused == "false":
            for body in bodies:
                body["fused"] = False
        elif fusion.get("first_stage"):
            add_first_stage_scores(bodies)
        requests_note = (
            "fused: false (the model's own score)"
            if fusion and args.fused == "false"
            else (
                f"fused by the model's fusion {fusion}"
                + (", BM25 first_stage_scores" if fusion.get("first_stage") else "")
                if fusion
                else "plain model"
            )
        )
        print(f"requests: {requests_note}")
        if args.warmup_seconds > 0:
            asyncio.run(run_phase(base, bodies, args.clients, args.warmup_seconds, 0))
        good = asyncio.run(run_phase(base, bodies, args.clients, args.seconds, 0))
        print(json.dumps({"good": good}, indent=1))
        mixed = asyncio.run(run_phase(base, bodies, args.clients, args.seconds, args.bad_every))
        print(json.dumps({"mixed": mixed}, indent=1))
        final_health = httpx.get(f"{base}/health", timeout=10).status_code
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    result = {
        "benchmark": "serve_load",
        "model": args.model,
        "server": {
            "max_wait_ms": args.max_wait_ms,
            "max_batch_pairs": args.max_batch_pairs,
            "max_documents": MAX_DOCUMENTS,
            "max_document_chars": MAX_DOCUMENT_CHARS,
            "extra_flags": args.server_args,
            "startup_s": round(startup, 1),
            "health": health,
            "log": str(log_path),
        },
        "requests": requests_note,
        "load": {"clients": args.clients, "seconds_per_phase": args.seconds, "documents_per_request": args.documents},
        "data": f"Home Depot train.csv.zip: {len(bodies)} requests (a query's own product titles + others', "
        f"seed {args.seed})",
        "good": good,
        "mixed": mixed,
        "health_after_all": final_health,
        "machine": {**machine(), "load_average": os.getloadavg()},
        "note": "clients and server share the machine's cores",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
