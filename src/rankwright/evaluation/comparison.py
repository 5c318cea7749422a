"""Several runs on the same judged queries, side by side, with paired tests of each run
against a baseline run: what ``rankwright compare`` and the recipe's test step report.

Every run is scored on the same qrels; each one other than the baseline is compared
with it per query (wins/ties/losses, the paired t-test and the paired randomisation
test) on nDCG@10 and MAP. Writes ``compare.json``, ``per_query.csv`` (one column group
``RUN:metric`` per run) and ``compare.html``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rankwright.data.loading import LoadedData
from rankwright.data.records import QUERY, QUERY_ID, RelevanceData
from rankwright.evaluation.config import CompareConfig
from rankwright.evaluation.evaluate import judged_qrels
from rankwright.evaluation.ranking import RankingResult, evaluate_run, table_metrics
from rankwright.evaluation.report import format_table, write_json
from rankwright.evaluation.significance import compared_metrics, format_comparison, paired_comparison

log = logging.getLogger(__name__)

CONVENTIONS = (
    "trec_eval via pytrec_eval (ir-measures): linear gains, log2 discount, score ties broken by doc_id "
    "descending; judged queries missing from a run score 0; MAP/MRR/P/R use gain >= relevant_gain; "
    "paired tests over all judged queries of the subset"
)
PER_QUERY_SHARED = (QUERY, "n_judged", "n_relevant", "informative")
#: (name, path, run frame with query_id, doc_id, score): one run to compare
NamedRun = tuple[str, str, pd.DataFrame]


@dataclass
class RunEntry:
    name: str
    path: str
    scored: int  # lines of the run
    queries: int  # distinct queries of the run
    result: RankingResult


@dataclass
class Comparison:
    runs: list[RunEntry]
    baseline: str
    compared: list[str]  # the metrics of the paired tests
    comparisons: list[dict[str, Any]]  # one per (run other than the baseline, metric)
    per_query: pd.DataFrame
    metrics: dict[str, Any]  # compare.json
    table: str
    comparison: str
    paths: dict[str, str] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)  # the metrics of the printed table and compare.html

    @property
    def summaries(self) -> dict[str, dict[str, Any]]:
        return {r.name: r.result.summary() for r in self.runs}


def per_query_table(runs: list[RunEntry], data: RelevanceData) -> pd.DataFrame:
    """query, n_judged, n_relevant, informative, then ``RUN:metric`` columns run by run."""
    first = runs[0].result.per_query
    table = pd.DataFrame(index=first.index)
    if data.has_texts:
        table[QUERY] = first.index.map(data.query_texts())
    for column in PER_QUERY_SHARED[1:]:
        table[column] = first[column]
    for run in runs:
        for metric in run.result.metrics:
            table[f"{run.name}:{metric}"] = run.result.per_query[metric].reindex(first.index)
    return table


def _evaluate(runs_in: list[NamedRun], loaded: LoadedData, config: CompareConfig) -> list[RunEntry]:
    """Each (name, path, run frame) evaluated on ``loaded.subset``'s qrels; a run without
    any judged query is an error, judged queries a run misses score 0 (with a warning)."""
    qrels = judged_qrels(loaded.subset, loaded.scheme)
    judged = set(qrels[QUERY_ID].astype(str))
    where = f"{loaded.subset.report.source or 'the data'} (subset {config.subset})"
    runs: list[RunEntry] = []
    for name, path, run in runs_in:
        queries = set(run[QUERY_ID].astype(str))
        if not queries & judged:
            examples = ", ".join(sorted(queries)[:3]) or "none"
            expected = ", ".join(sorted(judged)[:3]) or "none"
            raise ValueError(
                f"run {name!r} ({path}) has no query of the qrels: its {len(queries)} query ids (e.g. {examples}) "
                f"are not among the {len(judged)} judged queries of {where} (e.g. {expected})"
            )
        result = evaluate_run(run, qrels, loaded.scheme.relevant_gain, config.metrics)
        if result.missing_run_queries:
            log.warning(
                "run %s misses %d of %d judged queries: they score 0", name, result.missing_run_queries, len(judged)
            )
        runs.append(RunEntry(name, path, len(run), len(queries), result))
    return runs


def compare_runs(runs_in: list[NamedRun], loaded: LoadedData, config: CompareConfig) -> Comparison:
    """Evaluate (name, path, run frame) triples on ``loaded.subset``'s qrels, test each
    against the ``config.baseline``-th and write the files of ``config.output_dir``."""
    runs = _evaluate(runs_in, loaded, config)
    base = runs[config.baseline]
    compared = compared_metrics(base.result.metrics)
    comparisons = []
    for run in runs:
        if run is base:
            continue
        for metric in compared:
            c = paired_comparison(
                run.result.per_query, base.result.per_query, metric, rounds=config.rounds, seed=config.seed
            )
            comparisons.append({"system": run.name, "baseline": base.name, **c})
    summaries = {r.name: r.result.summary() for r in runs}
    metrics: dict[str, Any] = {
        "baseline": base.name,
        "runs": [
            {"name": r.name, "path": r.path, "scored_documents": r.scored, "queries": r.queries, "baseline": r is base}
            for r in runs
        ],
        "ranking": summaries,
        "comparisons": comparisons,
        "randomisation": {"rounds": config.rounds, "seed": config.seed},
        "subset": config.subset,
        "split": asdict(config.split) | {"queries": loaded.split_counts},
        "labels": loaded.scheme.to_dict(),
        "conventions": CONVENTIONS,
        "data": loaded.subset.report.to_dict(),
    }
    text = "\n".join(format_comparison(c["system"], c["baseline"], c) for c in comparisons)
    table = per_query_table(runs, loaded.subset)
    columns = table_metrics(config.metrics)
    printed = format_table(summaries, columns)
    comparison = Comparison(runs, base.name, compared, comparisons, table, metrics, printed, text, columns=columns)
    _write(comparison, Path(config.output_dir), config.report)
    return comparison


def _write(comparison: Comparison, out: Path, report: bool) -> None:
    """compare.json, per_query.csv and (with ``report``) compare.html; their paths go into ``comparison.paths``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"compare": out / "compare.json", "per_query": out / "per_query.csv"}
    write_json(comparison.metrics, paths["compare"])
    comparison.per_query.to_csv(paths["per_query"])
    comparison.paths = {k: str(v) for k, v in paths.items()}
    if report:
        from rankwright.evaluation.compare_report import write_compare_report

        comparison.paths["report"] = str(write_compare_report(out, comparison))
