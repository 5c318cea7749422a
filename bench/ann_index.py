"""Approximate dense indexes (``retriever.dense.index``) against exact search: build
time, index memory, recall@100/@10 against exact and queries/s, on up to 1,000,000
vectors made from real encoded passages.

Vectors: the distinct Home Depot product titles (``product_title``, 53,489; a seeded
sample of ``--n-base`` of them), encoded with all-MiniLM-L6-v2 (sentence-transformers,
unit length), plus ``--n-vectors - --n-base`` seeded perturbations: a random base
vector + Gaussian noise of ``--sigma`` per dimension, renormalised. Sigma 0.08: the
noise has norm ~0.08 x sqrt(384) = 1.57, so a perturbed vector keeps a cosine of ~0.54
with its source and two copies of one source ~0.29 with each other -- no tight clusters
around the 50k titles (sigma 0.03 would leave cosine 0.86 to the source, 0.74 between
copies) -- while a search term's cosine to its 100th-nearest title is ~0.37 (median, 10k
titles), so copies compete with real titles inside the top 100. Whether a copy's
nearest title is its own source depends only on the noise along (other - source),
so it stays high (0.98 at sigma 0.08 over 10k titles; lower over 50k, with more near
duplicates); the fraction, measured on 1,000 copies, is reported as
``own_source_nearest``.
Queries: ``--queries`` distinct Home Depot ``search_term`` values (seeded sample; real
search queries, not passages), encoded the same way. Embeddings are cached as .npy
under ``--cache`` (default ``runs/ann_index_cache``), so reruns skip encoding.

Each index kind runs in its own child process (peak RSS per kind): ``exact`` (FAISS
``IndexFlatIP``, brute force; its top 100 is the truth), ``hnsw`` and ``ivf-pq`` built
by ``rankwright.retrieval.ann`` with ``DenseConfig``'s defaults, overridden per kind as
``ivf-pq:pq_m=192,ivf_nprobe=64``. One build per kind; the search settings sweep
(``--ef-search``, ``--nprobe``) reuses it. Per setting: recall@100 and @10 against
exact, queries/s one query at a time (``--single-queries``) and in one batch.

    python bench/ann_index.py   # 1,000,000 vectors; writes bench/results/ann_index.json
    python bench/ann_index.py --n-vectors 20000 --n-base 2000 --queries 200 --out /tmp/ann_small.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, PeakRSS, machine, release_freed_memory, write_json

from rankwright.retrieval import ann
from rankwright.retrieval.config import DenseConfig

K = 100


def _encode(texts: list[str], path: Path) -> np.ndarray:
    if path.exists():
        return np.load(path)
    from sentence_transformers import SentenceTransformer

    from rankwright.models.loading import resolve_model_path

    model = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu")
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=128, normalize_embeddings=True, show_progress_bar=True)
    print(f"encoded {len(texts)} texts in {time.perf_counter() - started:.0f} s -> {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors.astype(np.float32))
    return np.load(path)


def base_and_queries(n_base: int, n_queries: int, cache: Path, seed: int) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    table = pd.read_csv(SHARED_DATA / "homedepot" / "train.csv.zip", encoding="latin-1")
    rng = np.random.default_rng(seed)
    titles = sorted(set(table["product_title"].astype(str)))
    titles = [titles[i] for i in np.sort(rng.choice(len(titles), min(n_base, len(titles)), replace=False))]
    terms = sorted(set(table["search_term"].astype(str)))
    terms = [terms[i] for i in np.sort(rng.choice(len(terms), min(n_queries, len(terms)), replace=False))]
    base = _encode(titles, cache / f"homedepot_titles_{len(titles)}_seed{seed}.npy")
    queries = _encode(terms, cache / f"homedepot_search_terms_{len(terms)}_seed{seed}.npy")
    return base, queries


def with_perturbations(base: np.ndarray, n_vectors: int, sigma: float, seed: int) -> np.ndarray:
    """``base`` then ``n_vectors - len(base)`` noisy copies of seeded random base rows, unit length."""
    rng = np.random.default_rng(seed + 1)
    out = np.empty((max(n_vectors, len(base)), base.shape[1]), dtype=np.float32)
    out[: len(base)] = base
    for start in range(len(base), len(out), 100_000):
        stop = min(start + 100_000, len(out))
        block = base[rng.integers(0, len(base), stop - start)] + rng.normal(0, sigma, (stop - start, base.shape[1]))
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def own_source_nearest(base: np.ndarray, sigma: float, seed: int, n: int = 1000) -> float:
    """Fraction of ``n`` perturbed vectors whose nearest base vector is their own source."""
    rng = np.random.default_rng(seed + 2)
    source = rng.integers(0, len(base), n)
    noisy = base[source] + rng.normal(0, sigma, (n, base.shape[1]))
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return float(np.mean(np.argmax(noisy.astype(np.float32) @ base.T, axis=1) == source))


def parse_kind(spec: str) -> tuple[str, dict[str, int]]:
    """``ivf-pq:pq_m=192,ivf_nprobe=64`` -> ("ivf-pq", {"pq_m": 192, "ivf_nprobe": 64})."""
    kind, _, rest = spec.partition(":")
    overrides = dict(item.split("=", 1) for item in rest.split(",") if item)
    return kind, {key: int(value) for key, value in overrides.items()}


# -- one index kind, in a child process ----------------------------------------------------------


def build(kind: str, overrides: dict[str, int], vectors: np.ndarray) -> tuple[object, dict]:
    faiss = ann.import_faiss()
    if kind == "exact":
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return index, {}
    config = DenseConfig(index=kind, **overrides)
    params, search = ann.index_params(config, len(vectors), vectors.shape[1])
    return ann.AnnIndex(ann.build_faiss(vectors, kind, params), kind, search), {"build": params, "search": search}


def queries_per_second(index, queries: np.ndarray, single: int) -> tuple[dict, np.ndarray]:
    started = time.perf_counter()
    for q in queries[:single]:
        index.search(q[None, :], K)
    single_qps = min(single, len(queries)) / (time.perf_counter() - started)
    started = time.perf_counter()
    _, rows = index.search(queries, K)
    batch_qps = len(queries) / (time.perf_counter() - started)
    return {"qps_single": round(single_qps, 1), "qps_batch": round(batch_qps, 1)}, rows


def search_settings(kind: str, spec: dict) -> list[dict[str, int]]:
    if kind == "hnsw":
        return [{"ef_search": ef} for ef in spec["ef_search"]] or [{}]
    if kind == "ivf-pq":
        return [{"nprobe": p} for p in spec["nprobe"]] or [{}]
    return [{}]


def child(spec_path: Path) -> None:
    spec = json.loads(spec_path.read_text())
    kind, overrides = parse_kind(spec["kind"])
    rss_start = _status_mib("VmRSS")
    vectors, queries = np.load(spec["vectors"]), np.load(spec["queries"])
    with PeakRSS() as growth:
        started = time.perf_counter()
        index, params = build(kind, overrides, vectors)
        seconds = time.perf_counter() - started
    exact_bytes = vectors.nbytes
    del vectors
    release_freed_memory()
    raw = index.index if isinstance(index, ann.AnnIndex) else index
    file = Path(spec["workdir"]) / f"{os.getpid()}.index"
    ann.import_faiss().write_index(raw, str(file))
    index_bytes = file.stat().st_size
    file.unlink()
    out = {"kind": kind, "overrides": overrides, **params, "build_seconds": round(seconds, 2)}
    out |= {"index_bytes": index_bytes, "exact_bytes": exact_bytes, "bytes_ratio": round(index_bytes / exact_bytes, 4)}
    out |= {"build_rss_growth_mib": round(growth.growth_mib, 1), "rss_before_load_mib": round(rss_start, 1)}
    out["rss_after_build_mib"] = round(_status_mib("VmRSS"), 1)
    truth = np.load(spec["truth"]) if spec.get("truth") else None
    out["searches"] = []
    for setting in search_settings(kind, spec):
        if setting:
            index.search_params = setting
            index._apply_search_params()
        timing, rows = queries_per_second(index, queries, spec["single_queries"])
        if truth is None:
            np.save(spec["rows"], rows)
        else:
            recall = {f"recall@{k}": round(ann.recall(rows[:, :k], truth[:, :k]), 4) for k in (K, 10)}
            timing = {**setting, **recall, **timing}
        out["searches"].append(timing)
    out["peak_rss_mib"] = round(_status_mib("VmHWM"), 1)
    Path(spec["result"]).write_text(json.dumps(out))


def _status_mib(name: str) -> float:
    """VmRSS or VmHWM (this process's peak RSS; unlike ``ru_maxrss``, not inherited from
    the parent across fork + exec) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) / 1024
    raise KeyError(name)


# -- the parent ---------------------------------------------------------------------------------------


def run_kind(spec: dict, workdir: Path) -> dict:
    path = workdir / f"spec_{spec['kind'].replace(':', '_').replace(',', '_')}.json"
    spec = {**spec, "result": str(path.with_suffix(".result.json")), "workdir": str(workdir)}
    path.write_text(json.dumps(spec))
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(path)], check=True, cwd=REPO)
    return json.loads(Path(spec["result"]).read_text())


def print_table(results: dict) -> None:
    print(f"{'index':34} {'build s':>8} {'MiB':>8} {'x exact':>8} {'peak RSS':>9} {'search':>14} "
          f"{'R@100':>6} {'R@10':>6} {'q/s 1':>8} {'q/s batch':>10}")  # fmt: skip
    for name, r in results["kinds"].items():
        for s in r["searches"]:
            setting = ",".join(f"{k}={v}" for k, v in s.items() if k in ("ef_search", "nprobe")) or "-"
            recall = f"{s.get('recall@100', 1.0):6.3f} {s.get('recall@10', 1.0):6.3f}"
            print(
                f"{name:34} {r['build_seconds']:8.1f} {r['index_bytes'] / 2**20:8.1f} {r['bytes_ratio']:8.3f} "
                f"{r['peak_rss_mib']:9.0f} {setting:>14} {recall} {s['qps_single']:8.1f} {s['qps_batch']:10.1f}"
            )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-vectors", type=int, default=1_000_000)
    parser.add_argument("--n-base", type=int, default=50_000, help="encoded product titles (at most 53,489)")
    parser.add_argument("--queries", type=int, default=1000, help="encoded search terms")
    parser.add_argument("--kinds", nargs="+", default=["exact", "hnsw", "ivf-pq", "ivf-pq:pq_m=192", "ivf-pq:pq_m=384"])
    parser.add_argument("--ef-search", type=int, nargs="*", default=[128, 256, 512], help="hnsw search settings")
    parser.add_argument("--nprobe", type=int, nargs="*", default=[16, 32, 64, 128], help="ivf-pq search settings")
    parser.add_argument("--single-queries", type=int, default=200, help="queries timed one at a time")
    parser.add_argument("--sigma", type=float, default=0.08, help="perturbation noise per dimension")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=REPO / "runs" / "ann_index_cache")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ann_index.json")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.child:
        return child(args.child)
    base, queries = base_and_queries(args.n_base, args.queries, args.cache, args.seed)
    vectors = with_perturbations(base, args.n_vectors, args.sigma, args.seed)
    data = {"n_base": len(base), "n_vectors": len(vectors), "n_queries": len(queries), "dimension": base.shape[1]}
    data |= {"sigma": args.sigma, "own_source_nearest": round(own_source_nearest(base, args.sigma, args.seed), 3)}
    print(data)
    results = {"machine": machine(), "faiss": ann.import_faiss().__version__, "data": data, "kinds": {}}
    with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
        workdir = Path(tmp)
        common = {"vectors": str(workdir / "vectors.npy"), "queries": str(workdir / "queries.npy")}
        np.save(common["vectors"], vectors)
        np.save(common["queries"], queries)
        del vectors
        common |= {"single_queries": args.single_queries, "ef_search": args.ef_search, "nprobe": args.nprobe}
        truth = str(workdir / "truth.npy")
        results["kinds"]["exact"] = run_kind({**common, "kind": "exact", "rows": truth}, workdir)
        for spec in [k for k in args.kinds if k != "exact"]:
            results["kinds"][spec] = run_kind({**common, "kind": spec, "truth": truth}, workdir)
            print_table(results)
    write_json(args.out, results)
    print_table(results)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
