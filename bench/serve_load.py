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
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, write_json
from serve_load_phase import run_phase
from serve_load_requests import MAX_DOCUMENT_CHARS, MAX_DOCUMENTS, add_first_stage_scores, build_requests


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


def prepare_for_fusion(bodies: list[dict], fusion: dict, fused: str) -> str:
    """Set the bodies up for the model's fusion (``fused: false``, or BM25
    first_stage_scores when it weights them); what the requests are, in words."""
    if fusion and fused == "false":
        for body in bodies:
            body["fused"] = False
    elif fusion.get("first_stage"):
        add_first_stage_scores(bodies)
    return (
        "fused: false (the model's own score)"
        if fusion and fused == "false"
        else (
            f"fused by the model's fusion {fusion}" + (", BM25 first_stage_scores" if fusion.get("first_stage") else "")
            if fusion
            else "plain model"
        )
    )


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
        requests_note = prepare_for_fusion(bodies, health.get("fusion") or {}, args.fused)
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
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
