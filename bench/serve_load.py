"""Load test of ``rankwright serve``: a real server subprocess on loopback, phases of
load, and the server's memory before and after.

Requests: 20 documents each, built from Home Depot (query, product_title) pairs: a
query's own products (about 6) filled up with titles of other queries' products
(seeded), in a seeded shuffle of queries. Phases (``--phases``, in order):

- ``capacity``: ``--clients`` clients back to back; its requests/s is the capacity the
  next phases are sized by (or ``--capacity``);
- ``steady50`` / ``steady150``: requests arriving at 50% / 150% of capacity, each sent
  when due whatever is in flight (open loop);
- ``burst``: ``--burst-factor`` (10) seconds' worth of capacity sent at once;
- ``mixed``: closed loop, every ``--bad-every``-th (10th) request a bad one of every
  kind the tests know (malformed JSON, wrong types, blank or surrogate texts, limits,
  TEI / Cohere shape errors, a too-long TEI text with ``truncate: false`` that is
  refused on the model thread after joining a batch);
- ``soak``: 50% of capacity for ``--soak-seconds`` (600), the server's RSS sampled
  every 30 s (not in the default list: add it for the memory-growth check).

Each phase reports requests/s, pairs/s, latency p50/p95/p99 (accepted and shed), answers
by status, shed count and time to the first 503; the closed-loop phases the server's
batch statistics and /health polls; ``goals`` checks the issue's goals on what ran
(no good request failed by a bad neighbour; under the burst the accepted p99 below
``request_timeout_s`` and the shed answered within 50 ms). The server's RSS (with its
worker processes) is read before and after, and it is stopped with SIGTERM (its exit
code is reported).

The clients and the server share the machine's cores: the numbers are for this
machine as a whole (see ``machine`` in the output), not for the server alone.

    python bench/serve_load.py                         # MiniLM, fresh head; writes bench/results/serve_load.json
    python bench/serve_load.py --model runs/bench_recipe/hdall/reranker/best --seconds 60
    python bench/serve_load.py --seconds 10 --out /tmp/serve_load.json   # a quick check
    python bench/serve_load.py --model M --phases capacity -- --backend onnx-int8 --workers 2 --threads 1
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
from serve_load_open import burst, open_loop, server_rss_mb, soak
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
            if response.status_code == 200 and httpx.get(f"{base}/ready", timeout=2).status_code == 200:
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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="model folder or packaged name (fresh head)")
    parser.add_argument("--clients", type=int, default=8, help="closed-loop phases (capacity, mixed): clients")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each phase")
    parser.add_argument("--documents", type=int, default=20, help="documents per request")
    parser.add_argument("--bad-every", type=int, default=10, help="mixed phase: every n-th request is bad")
    parser.add_argument("--phases", default=",".join(DEFAULT_PHASES), help=f"comma-separated, of {', '.join(PHASES)}")
    parser.add_argument("--capacity", type=float, default=None, help="requests/s (default: the capacity phase's)")
    parser.add_argument("--burst-factor", type=float, default=10.0, help="burst: this many seconds of capacity at once")
    parser.add_argument(
        "--soak-seconds", type=float, default=600.0, help="soak phase: 50%% load this long, RSS sampled"
    )
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
    args.phases = [p for p in args.phases.split(",") if p]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}; choose from {PHASES}")
    return args


#: capacity: closed loop (--clients back to back), its requests/s the capacity; steady50 / steady150:
#: open loop at 50% / 150% of it; burst: --burst-factor seconds of capacity sent at once; mixed:
#: closed loop, every --bad-every-th request bad; soak: open loop at 50% for --soak-seconds, RSS sampled
PHASES = ("capacity", "steady50", "steady150", "burst", "mixed", "soak")
DEFAULT_PHASES = PHASES[:-1]


def run_phases(args, base: str, bodies: list[dict], pid: int) -> dict:
    """Each phase asked for, in order (see PHASES); capacity first when another needs it."""
    results: dict = {}
    capacity = args.capacity
    needs_capacity = capacity is None and {"steady50", "steady150", "burst", "soak"} & set(args.phases)
    for phase in (["capacity"] if needs_capacity and "capacity" not in args.phases else []) + args.phases:
        if phase == "capacity":
            results[phase] = asyncio.run(run_phase(base, bodies, args.clients, args.seconds, 0))
            capacity = capacity or max(0.1, results[phase]["requests_per_s"])
        elif phase in ("steady50", "steady150"):
            rate = capacity * (0.5 if phase == "steady50" else 1.5)
            results[phase] = asyncio.run(open_loop(base, bodies, rate, args.seconds))
        elif phase == "burst":
            count = max(2, round(args.burst_factor * capacity))
            results[phase] = asyncio.run(burst(base, bodies, count))
        elif phase == "mixed":
            results[phase] = asyncio.run(run_phase(base, bodies, args.clients, args.seconds, args.bad_every))
        elif phase == "soak":
            results[phase] = asyncio.run(soak(base, bodies, 0.5 * capacity, args.soak_seconds, pid))
        print(json.dumps({phase: results[phase]}, indent=1), flush=True)
    results["capacity_requests_per_s"] = capacity
    return results


def server_shed_latency(log_path: Path) -> dict | None:
    """Percentiles of the server's own time (its access log's ``latency_ms``, from the
    request's arrival at the app to its answer) for the 503 answers: what the server
    spends on a shed request, apart from the client's and the kernel's queueing."""
    import numpy as np

    values = []
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"status": 503' in line:
            values.append(json.loads(line)["latency_ms"])
    if not values:
        return None
    q = np.percentile(values, [50, 95, 99])
    return {"count": len(values), "p50": round(q[0], 2), "p95": round(q[1], 2), "p99": round(q[2], 2)}


def goals(phases: dict, timeout_s: float) -> dict:
    """The issue's goals, checked on what was run (None: the phase was not run)."""
    mixed, burst, soak_phase = phases.get("mixed"), phases.get("burst"), phases.get("soak")
    p99 = (burst or {}).get("accepted_latency_ms", {}).get("p99")
    shed_p99 = (burst or {}).get("shed_latency_ms", {}).get("p99")
    return {
        "no_good_request_failed_by_a_bad_neighbour": None if mixed is None else mixed["all_good_got_200"],
        "every_bad_request_got_its_4xx": None if mixed is None else mixed["all_bad_got_4xx"],
        "burst_accepted_p99_below_timeout": None if p99 is None else p99 < timeout_s * 1000,
        "burst_shed_answered_within_50ms_p99": None if shed_p99 is None else shed_p99 < 50,
        "soak_rss_growth_mb": None if soak_phase is None else soak_phase["rss_growth_mb"],
    }


def main() -> None:
    args = parse_args()
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
        rss_before = server_rss_mb(process.pid)
        phases = run_phases(args, base, bodies, process.pid)
        rss_after = server_rss_mb(process.pid)
        final_health = httpx.get(f"{base}/health", timeout=10).status_code
    finally:
        process.terminate()  # SIGTERM: the server drains, then exits
        try:
            exit_code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            exit_code = None
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
            "rss_mb_before": rss_before,
            "rss_mb_after": rss_after,
            "exit_code_after_sigterm": exit_code,
            "shed_latency_ms_in_server": server_shed_latency(log_path),
        },
        "requests": requests_note,
        "load": {"clients": args.clients, "seconds_per_phase": args.seconds, "documents_per_request": args.documents},
        "data": f"Home Depot train.csv.zip: {len(bodies)} requests (a query's own product titles + others', "
        f"seed {args.seed})",
        **phases,
        "goals": goals(phases, health["limits"]["request_timeout_s"]),
        "health_after_all": final_health,
        "machine": {**machine(), "load_average": os.getloadavg()},
        "note": "clients and server share the machine's cores",
    }
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
