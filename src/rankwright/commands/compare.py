"""``rankwright compare``: evaluate several runs on the same judged queries, side by side,
with paired tests of each run against a baseline run.

``rankwright compare RUN_A RUN_B [RUN_C ...] --data.path DATA`` (or ``--runs a,b``;
``--qrels QRELS`` alone instead of the data, as with trec_eval):
every run is scored on the same qrels (the data, labels, split and subset of the
other commands); the table has one row per run and query subset, and each run is
compared with ``baseline`` (an index into the runs) per query: wins/ties/losses, the
paired t-test and the paired randomisation test on nDCG@10 and MAP.
Writes ``compare.json``, ``per_query.csv`` (one column group ``RUN:metric`` per run)
and ``compare.html``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rankwright.commands.common import LoadedData, load_data
from rankwright.commands.configs import CompareConfig
from rankwright.commands.evaluate import load_scores
from rankwright.data.records import QUERY, QUERY_ID, RelevanceData
from rankwright.evaluation.evaluate import judged_qrels
from rankwright.evaluation.ranking import RankingResult, evaluate_run, table_metrics
from rankwright.evaluation.report import format_table, write_json
from rankwright.evaluation.significance import format_comparison, paired_comparison

log = logging.getLogger(__name__)

CONVENTIONS = (
    "trec_eval via pytrec_eval (ir-measures): linear gains, log2 discount, score ties broken by doc_id "
    "descending; judged queries missing from a run score 0; MAP/MRR/P/R use gain >= relevant_gain; "
    "paired tests over all judged queries of the subset"
)
PER_QUERY_SHARED = (QUERY, "n_judged", "n_relevant", "informative")


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


def run_names(paths: list[str], names: list[str] | None) -> list[str]:
    """The given names, or each file's name without its suffix (with its folder when
    two files share a name)."""
    if names:
        if len(names) != len(paths):
            raise ValueError(f"names has {len(names)} entries but there are {len(paths)} runs: give one name per run")
        if len(set(names)) < len(names):
            raise ValueError(f"names must differ from each other, got {names}")
        return list(names)
    stems = [Path(p).stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    labels = [f"{Path(p).parent.name}/{Path(p).stem}" for p in paths]
    if len(set(labels)) == len(labels):
        return labels
    return [f"{stem}#{i + 1}" for i, stem in enumerate(stems)]


def check_runs(config: CompareConfig) -> list[str]:
    """Fail before any data is read: at least two runs, each an existing file, a valid
    baseline index; returns the run names."""
    if len(config.runs) < 2:
        raise ValueError(
            f"compare needs at least two runs, got {len(config.runs)}: "
            "`rankwright compare RUN_A RUN_B ... --data.path DATA` or `--qrels QRELS` (or --runs a.trec,b.trec)"
        )
    for i, path in enumerate(config.runs, start=1):
        if not Path(path).is_file():
            raise FileNotFoundError(f"run {i} ({path}) does not exist or is not a file")
    names = run_names(config.runs, config.names)
    if not 0 <= config.baseline < len(config.runs):
        raise ValueError(f"baseline must be a run index from 0 to {len(config.runs) - 1}, got {config.baseline}")
    return names


def compared_metrics(metrics: list[str]) -> list[str]:
    """nDCG@10 (else the deepest nDCG cut-off) and MAP: the metrics of the paired tests."""
    ndcg = "ndcg@10" if "ndcg@10" in metrics else next((m for m in reversed(metrics) if m.startswith("ndcg@")), None)
    return [m for m in (ndcg, "map") if m is not None and m in metrics]


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


def main(config: CompareConfig) -> Comparison:
    names = check_runs(config)
    loaded = load_data(config)
    runs = [(name, path, load_scores(path)) for name, path in zip(names, config.runs, strict=True)]
    return compare_runs(runs, loaded, config)


def compare_runs(runs_in: list[tuple[str, str, pd.DataFrame]], loaded: LoadedData, config: CompareConfig) -> Comparison:
    """Evaluate (name, path, run frame) triples on ``loaded.subset``'s qrels, test each
    against the ``config.baseline``-th and write the files of ``config.output_dir``."""
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
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"compare": out / "compare.json", "per_query": out / "per_query.csv"}
    write_json(metrics, paths["compare"])
    comparison.per_query.to_csv(paths["per_query"])
    comparison.paths = {k: str(v) for k, v in paths.items()}
    if config.report:
        from rankwright.evaluation.compare_report import write_compare_report

        comparison.paths["report"] = str(write_compare_report(out, comparison))
    return comparison
