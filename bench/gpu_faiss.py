"""GPU check of retriever.dense.index_device (rankwright.retrieval.ann_device), for a
machine with a GPU and a GPU build of FAISS (bench/gpu_check.sh, check "faiss").

On seeded clustered unit vectors (no model or data needed), for IVF-PQ at several code
sizes: the index is built on the CPU as always, then placed with index_device auto and
cuda. Records where it searches (and why not on the GPU), queries/s on the CPU index and
on the GPU copy, how many of the CPU's top-k rows the GPU copy returns and the largest
score difference on shared rows, and that a pickled index (the Dask path) is placed on
the GPU again. Exits 1 when a check fails: a GPU copy that loses more than 1% of the
CPU's rows, a placement that differs between auto and cuda, or no GPU at all.

    python bench/gpu_faiss.py --out bench/results            # 200,000 x 384, pq_m 384,96,48
    python bench/gpu_faiss.py --n 20000 --pq-m 48 --out /tmp  # a quick look
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from rankwright.retrieval import ann, ann_device
from rankwright.retrieval.config import DenseConfig


def clustered(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around n / 100 seeded centres (clustered, like embeddings)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 100), d)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.7 * rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def timed_search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, float]:
    index.search(queries[:16], k)  # warm-up (GPU kernels, OpenMP threads)
    started = time.perf_counter()
    scores, rows = index.search(queries, k)
    return scores, rows, len(queries) / (time.perf_counter() - started)


def agreement(cpu: tuple[np.ndarray, np.ndarray], gpu: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    """Share of the CPU's rows the GPU returned, and the largest score difference on shared rows."""
    shared, diff = [], 0.0
    for cs, cr, gs, gr in zip(cpu[0], cpu[1], gpu[0], gpu[1], strict=True):
        common, ci, gi = np.intersect1d(cr[cr >= 0], gr[gr >= 0], return_indices=True)
        shared.append(len(common) / max(1, int((cr >= 0).sum())))
        if len(common):
            diff = max(diff, float(np.abs(cs[cr >= 0][ci] - gs[gr >= 0][gi]).max()))
    return {"rows_shared": round(float(np.mean(shared)), 5), "max_score_diff": diff}


def check(vectors: np.ndarray, queries: np.ndarray, pq_m: int, k: int) -> dict:
    config = DenseConfig(index="ivf-pq", pq_m=pq_m)
    build, search = ann.index_params(config, len(vectors), vectors.shape[1])
    started = time.perf_counter()
    cpu_index = ann.build_faiss(vectors, "ivf-pq", build)
    out: dict = {"pq_m": pq_m, "build": build, "search": search, "build_s": round(time.perf_counter() - started, 2)}
    auto = ann.AnnIndex(cpu_index, "ivf-pq", search, "auto")
    out["auto"] = {"where": auto.placement.where, "why_cpu": auto.placement.why_cpu}
    try:
        ann.AnnIndex(cpu_index, "ivf-pq", search, "cuda")
        out["cuda"] = "placed"
    except ValueError as err:
        out["cuda"] = f"refused: {err}"
    out["ok"] = (out["cuda"] == "placed") == (auto.placement.where != "cpu")
    *cpu, out["cpu_qps"] = timed_search(cpu_index, queries, k)
    if auto.placement.where == "cpu":
        return out
    *gpu, out["gpu_qps"] = timed_search(auto.placement.searcher, queries, k)
    out["gpu_vs_cpu"] = agreement(cpu, gpu)
    again = pickle.loads(pickle.dumps(auto))
    out["unpickled_where"] = again.placement.where
    out["ok"] = out["ok"] and out["gpu_vs_cpu"]["rows_shared"] >= 0.99 and again.placement.where != "cpu"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000, help="indexed vectors")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--pq-m", default="384,96,48", help="comma-separated code sizes (bytes per vector)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()

    faiss = ann.import_faiss()
    result: dict = {
        "faiss": faiss.__version__,
        "visible_gpus": ann_device.visible_gpus(faiss),
        "n": args.n,
        "dim": args.dim,
        "queries": args.queries,
        "k": args.k,
        "checks": [],
    }
    print(f"faiss {faiss.__version__}, GPUs visible to FAISS: {result['visible_gpus']}", flush=True)
    vectors = clustered(args.n + args.queries, args.dim)
    vectors, queries = vectors[: args.n], vectors[args.n :]
    for pq_m in (int(m) for m in args.pq_m.split(",")):
        result["checks"].append(check(vectors, queries, pq_m, args.k))
        print(json.dumps(result["checks"][-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_faiss.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    placed = [c for c in result["checks"] if c["auto"]["where"] != "cpu"]
    ok = result["visible_gpus"] > 0 and bool(placed) and all(c["ok"] for c in result["checks"])
    print(f"{len(placed)} of {len(result['checks'])} code sizes searched on the GPU; {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
