"""The method processes of ``generative_scoring.py``: ``child`` runs in each (load, warm
up, then score every pair once per ``run`` line from the parent), ``Child`` is the
parent's handle on one. Messages to the parent are stdout lines starting with ``MARK``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import PeakRSS, release_freed_memory
from generative_methods import load_naive, load_rankwright, load_sentence_transformers

MARK = "RWBENCH "  # prefix of the lines a method process sends to the parent


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


class Child:
    """A method's process, driven line by line (see ``child``)."""

    def __init__(self, method: str, workdir: Path, script: str):
        self.method = method
        command = [sys.executable, script, "--child", method, "--workdir", str(workdir)]
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
