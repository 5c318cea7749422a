"""Where a system stands against its baselines on the same queries: each baseline
(random order, BM25, a given run) tested against it per query, the difference on every
table metric, and a ``WARNING:`` sentence when it is below random order or BM25.

``evaluate`` reports it on the evaluated queries, ``train`` for the best model on the
validation queries; the recipe's guard rail words its warnings with :func:`below_warning`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from rankwright.evaluation.ranking import RankingConfig, RankingResult, evaluate_run, random_baseline
from rankwright.evaluation.significance import paired_comparison

RANDOM, BM25 = "random", "bm25"
#: the baselines a system must not fall below without a warning, as sentences name them
WARNED = {RANDOM: "random order", BM25: "BM25"}


def below_warning(name: str, other: str, what: str, value: float, other_value: float, detail: str = "") -> str:
    """``WARNING: NAME's WHAT (value) is below OTHER's (value)`` and ``detail``."""
    return f"WARNING: {name}'s {what} ({value:.4f}) is below {other}'s ({other_value:.4f}){detail}"


def p_value(p: float) -> str:
    """A p-value with four decimals, or in scientific notation below 0.0001 (not ``0.0000``)."""
    return "-" if math.isnan(p) else f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def comparison_words(c: dict[str, Any]) -> str:
    """A paired comparison in words: the difference, wins/ties/losses and both p-values."""
    return (
        f"{c['mean_difference']:+.4f}, wins/ties/losses {c['wins']}/{c['ties']}/{c['losses']}, "
        f"paired t-test p {p_value(c['t_test_p'])}, randomisation p {p_value(c['randomisation_p'])}"
    )


@dataclass
class Standing:
    system: str
    metric: str  # the metric of the paired tests and the warnings
    queries: str  # which queries, in words ("evaluated queries", "validation queries")
    comparisons: list[dict[str, Any]]  # the system against each baseline (paired_comparison's fields)
    warnings: list[str]  # one ``WARNING:`` sentence per warned baseline the system is below

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def standing(
    system: str,
    per_query: pd.DataFrame,
    baselines: dict[str, pd.DataFrame],
    metric: str,
    queries: str,
    *,
    rounds: int = 10_000,
    seed: int = 0,
) -> Standing:
    """``system``'s per-query ``metric`` (index query_id) against each baseline's on the
    same queries; a warning for each of random order and BM25 it is below on average."""
    comparisons, warnings = [], []
    for name, other in baselines.items():
        c = paired_comparison(per_query, other, metric, queries=per_query.index, rounds=rounds, seed=seed)
        comparisons.append({"system": system, "baseline": name, **c})
        if name in WARNED and c["mean_difference"] < 0:
            detail = f" on the {c['queries']} {queries}: {comparison_words(c)}"
            warnings.append(below_warning(system, WARNED[name], metric, c["mean_a"], c["mean_b"], detail))
    return Standing(system, metric, queries, comparisons, warnings)


def _aligned(rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell: the first left-aligned, numbers right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    cells = [
        [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))] for row in rows
    ]
    return ["  ".join(row) for row in cells]


def format_deltas(s: Standing, summaries: dict[str, dict[str, Any]], columns: list[str]) -> str:
    """The system minus each baseline on every column (all queries), with the paired
    test on ``s.metric``: the lines under the printed table of ``evaluate``."""
    system = summaries[s.system]["all"]
    names = [m for m in columns if m in system]
    rows = [["baseline", *names, "wins/ties/losses", "t-test p", "randomisation p"]]
    for c in s.comparisons:
        base = summaries[c["baseline"]]["all"]
        deltas = []
        for m in names:
            d = system[m] - base[m] if base.get(m) is not None and system[m] is not None else float("nan")
            deltas.append("-" if math.isnan(d) else f"{d:+.4f}")
        wtl = f"{c['wins']}/{c['ties']}/{c['losses']}"
        rows.append([c["baseline"], *deltas, wtl, p_value(c["t_test_p"]), p_value(c["randomisation_p"])])
    n = system["n_queries"]
    title = f"{s.system} minus each baseline (all {n} {s.queries}; wins/ties/losses and paired tests on {s.metric}):"
    return "\n".join([title, *_aligned(rows)])


def format_line(s: Standing) -> str:
    """One line: the system's mean and each baseline's, with the difference and p-value."""
    if not s.comparisons:
        return ""
    first = s.comparisons[0]
    parts = [
        f"{WARNED.get(c['baseline'], c['baseline'])} {c['mean_b']:.4f} "
        f"(difference {c['mean_difference']:+.4f}, paired t-test p {p_value(c['t_test_p'])})"
        for c in s.comparisons
    ]
    head = f"{s.metric} on the {first['queries']} {s.queries}: {s.system} {first['mean_a']:.4f}"
    return "; ".join([head, *parts])


def baseline_results(
    pairs: pd.DataFrame,
    qrels: pd.DataFrame,
    relevant_gain: int,
    metrics: RankingConfig,
    documents: dict[str, str],
    *,
    seed: int = 42,
    progress: bool = False,
) -> dict[str, RankingResult]:
    """Random order and BM25 on judged candidates ``pairs`` (query_id, query, doc_id):
    random order is the mean of 10 seeded shuffles per query; BM25's IDF is over
    ``documents`` (doc_id -> text), as ``evaluate`` computes it over the data's documents."""
    from rankwright.retrieval.bm25 import BM25 as BM25Index  # bm25s only when asked

    rows = {RANDOM: random_baseline(pairs, qrels, relevant_gain, metrics, repeats=10, seed=seed)}
    run = BM25Index(documents, progress=progress).score_candidates(pairs, progress=progress)
    rows[BM25] = evaluate_run(run, qrels, relevant_gain, metrics)
    return rows
