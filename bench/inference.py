"""Inference speed and what it costs: rankwright's scoring paths against
sentence-transformers ``CrossEncoder.predict`` in one process, on the same pairs.
Given a bi-encoder folder (``model_type: bi-encoder``, e.g. the recipe's
``bi_encoder/best``), the peer is ``SentenceTransformer.encode`` of the distinct
queries and documents and the cosine of each pair, and rankwright's systems embed
through torch, ONNX fp32 and int8 the same way.

Speed: 4,000 Home Depot (query, product title) pairs (a seeded sample of the test
split of the recipe's 60/20/20 query split, seed 42), max_length 128, raw scores
(identity activation), model loading excluded, every system timed ``--repeats`` times
in turn (round-robin, so drift in the machine's load hits all alike); the median is
reported, and each system's ratio to sentence-transformers' torch backend.

- ``st_torch``: ``CrossEncoder(model, max_length=128).predict(pairs, batch_size=32)``
  (32 is its default; ``--st-batch-sizes`` adds others, each reported);
- ``st_onnx``: the same with ``backend="onnx"`` (skipped, with the reason, when
  sentence-transformers' ONNX extra is not installed);
- ``rw_torch``: ``Reranker.logits`` (the exact path: length-sorted, token-budget batches);
- ``rw_onnx``: the same through ONNX Runtime fp32 (exact when within 1e-5 of torch);
- ``rw_onnx_int8``: the dynamically quantised int8 ONNX model (not exact).

Quality: every pair of the test split is scored by ``rw_torch``, ``rw_onnx`` and
``rw_onnx_int8``; nDCG@10 and MAP (trec_eval conventions) and their differences from
torch, and the score correlations.

    python bench/inference.py                      # writes bench/results/inference.json
    python bench/inference.py --model DIR --repeats 5

The default model is the Home Depot reranker trained by ``python bench/recipe.py --only
hdall`` (runs/bench_recipe/hdall/reranker/best); without it, ``--model all-MiniLM-L6-v2``
measures speed with a fresh score head (the quality numbers then mean nothing).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, interleaved, machine, peak_rss_mib, write_json

from rankwright.data.labels import LabelConfig, build_scheme
from rankwright.data.readers import ColumnMap, DataConfig, read_relevance
from rankwright.data.records import DOC, DOC_ID, QUERY, QUERY_ID
from rankwright.data.split import SplitConfig, split_data
from rankwright.evaluation.evaluate import qrels_of
from rankwright.evaluation.ranking import RankingConfig, evaluate_run
from rankwright.inference.reranker import Reranker
from rankwright.models.loading import model_type_of, resolve_model_path

HD = SHARED_DATA / "homedepot" / "train.csv.zip"
COLUMNS = ColumnMap(query="search_term", docs=["product_title"], label="relevance", doc_id="product_uid")
LABELS = LabelConfig(scheme="graded", gain_offset=1, gain_scale=12, threshold=2.33)
DEFAULT_MODEL = REPO / "runs" / "bench_recipe" / "hdall" / "reranker" / "best"


def test_split():
    data = read_relevance(DataConfig(path=str(HD), columns=COLUMNS))
    scheme = build_scheme(LABELS, data)
    return split_data(data, SplitConfig(ratios=[0.6, 0.2, 0.2], seed=42))["test"], scheme


def export(model: str, out: Path) -> Path:
    """The model folder with onnx/model.onnx and onnx/model_int8.onnx (made once)."""
    if not (out / "onnx" / "model_int8.onnx").is_file():
        command = ["rankwright", "export", "--model", model, "--output", str(out), "--onnx", "true", "--int8", "true"]
        command += ["--overwrite", "true"]  # an export cut short before its int8 file
        subprocess.run(command, check=True)
    return out


class System:
    """A named scorer of (queries, docs) -> raw scores, loaded before timing."""

    def __init__(self, name: str, score, note: str = ""):
        self.name, self.score, self.note = name, score, note
        self.seconds: list[float] = []
        self.scores: np.ndarray | None = None


def st_system(name: str, model: str, max_length: int, batch_size: int, backend: str = "torch") -> System:
    from sentence_transformers import CrossEncoder

    ce = CrossEncoder(model, max_length=max_length, device="cpu", backend=backend)
    identity = torch.nn.Identity()

    def score(queries, docs):
        return ce.predict(
            list(zip(queries, docs, strict=True)),
            batch_size=batch_size,
            activation_fn=identity,
            show_progress_bar=False,
            convert_to_numpy=True,
        )

    return System(name, score, f"CrossEncoder.predict, backend {backend}, batch_size {batch_size}")


def st_bi_system(name: str, model: str, max_length: int, batch_size: int) -> System:
    """A bi-encoder the sentence-transformers way: ``encode`` each distinct query and
    document (unit length), then the cosine of each pair."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model, device="cpu")
    st.max_seq_length = max_length

    def score(queries, docs):
        q_texts, q_index = np.unique(np.asarray(queries, dtype=object), return_inverse=True)
        d_texts, d_index = np.unique(np.asarray(docs, dtype=object), return_inverse=True)
        kwargs = {"batch_size": batch_size, "normalize_embeddings": True, "show_progress_bar": False}
        q, d = st.encode(q_texts.tolist(), **kwargs), st.encode(d_texts.tolist(), **kwargs)
        return np.einsum("ij,ij->i", q[q_index], d[d_index])

    return System(name, score, f"SentenceTransformer.encode of distinct texts, batch_size {batch_size}, cosine")


def rw_system(name: str, model: str, max_length: int, backend: str, batch_size: int, max_tokens: int | None) -> System:
    reranker = Reranker.from_pretrained(model, device="cpu", max_length=max_length, backend=backend)

    def score(queries, docs):
        return reranker.logits(queries, docs, batch_size=batch_size, max_tokens=max_tokens, progress=False)

    note = f"Reranker.logits, backend {backend}, batch_size {batch_size}, max_tokens {max_tokens}"
    system = System(name, score, note)
    system.reranker = reranker
    return system


def time_systems(systems: list[System], queries: list[str], docs: list[str], repeats: int) -> None:
    for system in systems:  # one untimed call each: first-call allocations, ORT's graph set-up
        system.score(queries[:64], docs[:64])
    for _, system in interleaved(systems, repeats, rotate=False):
        start = time.perf_counter()
        system.scores = np.asarray(system.score(queries, docs), dtype=np.float32).reshape(len(docs))
        system.seconds.append(time.perf_counter() - start)


def quality(systems: list[System], test, scheme) -> dict[str, dict[str, float]]:
    pairs = test.pairs
    qrels = qrels_of(test, scheme)
    config = RankingConfig(ndcg_at=[10], precision_at=[], recall_at=[])
    out, reference = {}, None
    for system in systems:
        start = time.perf_counter()
        scores = system.reranker.logits(pairs[QUERY].tolist(), pairs[DOC].tolist(), progress=False)
        seconds = time.perf_counter() - start
        run = pd.DataFrame({QUERY_ID: pairs[QUERY_ID], DOC_ID: pairs[DOC_ID], "score": scores})
        means = evaluate_run(run, qrels, scheme.relevant_gain, config).mean()
        row = {"ndcg@10": means["ndcg@10"], "map": means["map"], "pairs": len(pairs), "seconds": round(seconds, 1)}
        if reference is None:
            reference = (scores, row)
        else:
            row["ndcg@10_diff"] = row["ndcg@10"] - reference[1]["ndcg@10"]
            row["map_diff"] = row["map"] - reference[1]["map"]
            row["pearson"] = float(np.corrcoef(scores, reference[0])[0, 1])
            row["spearman"] = float(pd.Series(scores).corr(pd.Series(reference[0]), method="spearman"))
            row["max_abs_diff"] = float(np.abs(scores - reference[0]).max())
        out[system.name] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--pairs", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=256, help="rankwright's pair cap per batch")
    parser.add_argument("--max-tokens", type=int, default=4096, help="rankwright's token budget per batch")
    parser.add_argument(
        "--torch-variants",
        default="",
        help="extra rw_torch batchings to time, e.g. 32:none,256:2048 (pairs cap:token budget)",
    )
    parser.add_argument("--st-batch-sizes", default="32", help="comma-separated; 32 is ST's default")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--export-dir", default=None, help="where the ONNX folder goes (default: a temp folder)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "inference.json"))
    args = parser.parse_args()

    model = resolve_model_path(args.model)
    if not Path(model).exists():
        sys.exit(f"{model} does not exist: train it with `python bench/recipe.py --only hdall` or pass --model")
    test, scheme = test_split()
    sample = test.pairs.sample(n=min(args.pairs, len(test.pairs)), random_state=0)
    queries, docs = sample[QUERY].tolist(), sample[DOC].tolist()
    onnx_dir = export(model, Path(args.export_dir or tempfile.mkdtemp(prefix="rw_onnx_")))

    systems, skipped = [], {}
    bi_encoder = model_type_of(model) == "bi-encoder"
    for size in [int(s) for s in args.st_batch_sizes.split(",")]:
        peer = st_bi_system if bi_encoder else st_system
        systems.append(peer(f"st_torch_b{size}", model, args.max_length, size))
    try:
        if bi_encoder:
            raise RuntimeError("sentence-transformers' ONNX backend needs optimum, which needs transformers < 4.58")
        systems.append(st_system("st_onnx_b32", model, args.max_length, 32, backend="onnx"))
    except Exception as err:  # optimum / its ONNX export are optional extras of sentence-transformers
        skipped["st_onnx"] = f"{type(err).__name__}: {err}"[:300]
    ours = [
        rw_system("rw_torch", str(onnx_dir), args.max_length, "torch", args.batch_size, args.max_tokens),
        rw_system("rw_onnx", str(onnx_dir), args.max_length, "onnx", args.batch_size, args.max_tokens),
        rw_system("rw_onnx_int8", str(onnx_dir), args.max_length, "onnx-int8", args.batch_size, args.max_tokens),
    ]
    for variant in filter(None, args.torch_variants.split(",")):
        size, budget = variant.split(":")
        tokens = None if budget == "none" else int(budget)
        name = f"rw_torch_b{size}_t{budget}"
        systems.append(rw_system(name, str(onnx_dir), args.max_length, "torch", int(size), tokens))
    systems += ours
    time_systems(systems, queries, docs, args.repeats)

    peer = systems[0]
    reference = next(s for s in systems if s.name == "rw_torch").scores
    speed = {}
    for system in systems:
        median = float(np.median(system.seconds))
        speed[system.name] = {
            "note": system.note,
            "seconds": [round(s, 3) for s in system.seconds],
            "pairs_per_s": round(len(docs) / median, 1),
            "ratio_to_st_torch": round(float(np.median(peer.seconds)) / median, 3),
            "max_abs_diff_to_st_torch": float(np.abs(system.scores - peer.scores).max()),
            "max_abs_diff_to_rw_torch": float(np.abs(system.scores - reference).max()),
        }
    result = {
        "machine": machine(),
        "model": model,
        "pairs": len(docs),
        "max_length": args.max_length,
        "repeats": args.repeats,
        "speed": speed,
        "skipped": skipped,
        "quality": None if args.skip_quality else quality(ours, test, scheme),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }
    write_json(args.out, result)
    for name, row in speed.items():
        print(
            f"{name:<14} {row['pairs_per_s']:>8.1f} pairs/s  x{row['ratio_to_st_torch']:.2f}  "
            f"max|diff| vs st {row['max_abs_diff_to_st_torch']:.2g}"
        )
    for name, row in (result["quality"] or {}).items():
        print(name, {k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
