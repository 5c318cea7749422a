"""The recipe's last step: every system on the test queries, side by side.

The runs (first stage, zero-shot dense rerank, fine-tuned reranker, fine-tuned
bi-encoder, the best zero-shot fusion of the first stage and the dense rerank, the
cross-encoders not kept, and the system selected on validation) are
written as TREC files and evaluated as ``rankwright compare`` evaluates runs
(:mod:`rankwright.evaluation.comparison`: one table, ``compare.json``,
``per_query.csv``, ``compare.html``); the selected system and the fine-tuned models are
then tested per query against the first stage, the dense rerank and their zero-shot
fusion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rankwright.data.loading import LoadedData
from rankwright.data.readers import write_run
from rankwright.data.records import DOC_ID, QUERY_ID, SCORE
from rankwright.evaluation.comparison import Comparison, compare_runs
from rankwright.evaluation.config import CompareConfig
from rankwright.evaluation.significance import paired_comparison
from rankwright.inference.fusion import fuse
from rankwright.recipe.candidates import fusion_components
from rankwright.recipe.phases import ROW_NAMES
from rankwright.recipe.retrieval_stage import ROW as RETRIEVAL_ROW
from rankwright.recipe.selection import Selection

DENSE_ROW = "dense rerank (zero-shot)"
RERANKER_ROW = "fine-tuned reranker"
BIENCODER_ROW = "fine-tuned bi-encoder"
#: the best fusion of the first stage and the dense rerank alone (no fine-tuned model),
#: chosen on validation like every candidate: the strictest zero-shot baseline
ZERO_SHOT_ROW = "zero-shot fusion (first stage + dense)"


NOT_KEPT = "(not kept)"


def other_reranker_row(run: str) -> str:
    """The test-table row of a cross-encoder that the reranker choice did not keep
    (``run``: a key of ``phases.ROW_NAMES``, e.g. ``without_warmup``)."""
    return f"{RERANKER_ROW} {ROW_NAMES[run]} {NOT_KEPT}"


def system_runs(
    test: pd.DataFrame,
    reranker_scores: np.ndarray,
    selection: Selection,
    first_name: str,
    others: dict[str, np.ndarray] | None = None,
    biencoder_scores: np.ndarray | None = None,
    retrieval: tuple[str, pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """name -> run (query_id, doc_id, score) of every system on the test candidates;
    the selected system last. ``others`` (row name -> scores) are the cross-encoders
    that the reranker choice did not keep, reported as ablations. ``retrieval`` (row
    name, run) is the fine-tuned bi-encoder's own top k of the corpus: other candidates,
    and the selected system's run when the selection chose it."""
    parts = fusion_components(test, reranker_scores, biencoder_scores)
    query_ids = test[QUERY_ID].astype(str).tolist()
    named = {first_name: parts["first_stage"]}
    if "dense" in parts:
        named[DENSE_ROW] = parts["dense"]
    zero_shot = selection.zero_shot
    if zero_shot is not None and all(c in parts for c in zero_shot["weights"]):
        named[ZERO_SHOT_ROW] = fuse(parts, query_ids, zero_shot)
    named[RERANKER_ROW] = parts["reranker"]
    if "biencoder" in parts:
        named[BIENCODER_ROW] = parts["biencoder"]
    runs = {name: _run(test, scores) for name, scores in named.items()}
    if retrieval is not None:
        runs[retrieval[0]] = retrieval[1]
    runs |= {name: _run(test, scores) for name, scores in (others or {}).items()}
    if selection.retrieval is not None and retrieval is not None:
        runs[f"selected: {selection.chosen}"] = retrieval[1]
    else:
        runs[f"selected: {selection.chosen}"] = _run(test, fuse(parts, query_ids, selection.fusion))
    return runs


def _run(test: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    return test[[QUERY_ID, DOC_ID]].assign(**{SCORE: scores})


def write_runs(runs: dict[str, pd.DataFrame], folder: Path) -> list[tuple[str, str, pd.DataFrame]]:
    """Each run as ``folder/<i>_<short name>.trec``; returns (name, path, run) triples."""
    folder.mkdir(parents=True, exist_ok=True)
    triples = []
    for i, (name, run) in enumerate(runs.items()):
        short = name.split(":")[0].split(" (")[0].replace(" ", "_")
        path = folder / f"{i}_{short}.trec"
        write_run(run, path, tag=f"rankwright-{i}")
        triples.append((name, str(path), run))
    return triples


def paired_tests(comparison: Comparison, first_name: str, selected: str) -> list[dict[str, Any]]:
    """The selected system, the reranker and the bi-encoder against the first stage, the
    dense rerank and the zero-shot fusion of both (nDCG@10 and MAP); ``best_baseline``
    marks the best of those on test nDCG@10. The kept reranker is also tested against
    the ones the reranker choice did not keep."""
    per_query = {r.name: r.result.per_query for r in comparison.runs}
    baselines = [n for n in (first_name, DENSE_ROW, ZERO_SHOT_ROW) if n in per_query]
    best = max(baselines, key=lambda n: per_query[n]["ndcg@10"].mean())
    out = []
    retrieval = [n for n in per_query if n.startswith(RETRIEVAL_ROW)]
    for system in (n for n in (selected, RERANKER_ROW, BIENCODER_ROW, *retrieval) if n in per_query):
        for base in baselines:
            for metric in ("ndcg@10", "map"):
                c = paired_comparison(per_query[system], per_query[base], metric)
                out.append({"system": system, "baseline": base, "best_baseline": base == best, **c})
    for base in (n for n in per_query if n.endswith(NOT_KEPT)):
        for metric in ("ndcg@10", "map"):
            c = paired_comparison(per_query[RERANKER_ROW], per_query[base], metric)
            out.append({"system": RERANKER_ROW, "baseline": base, "best_baseline": False, **c})
    return out


def evaluate_heldout(
    runs: dict[str, pd.DataFrame], test: LoadedData, config: CompareConfig, first_name: str
) -> tuple[Comparison, list[dict[str, Any]]]:
    """Write and compare the runs (the first one is the baseline) and test the selected one."""
    triples = write_runs(runs, Path(config.output_dir) / "runs")
    comparison = compare_runs(triples, test, config)
    comparison.paths["runs"] = str(Path(config.output_dir) / "runs")
    return comparison, paired_tests(comparison, first_name, triples[-1][0])
