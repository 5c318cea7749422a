"""``rankwright compare``: evaluate several runs on the same judged queries, side by side,
with paired tests of each run against a baseline run.

``rankwright compare RUN_A RUN_B [RUN_C ...] --data.path DATA`` (or ``--runs a,b``;
``--qrels QRELS`` alone instead of the data, as with trec_eval):
every run is scored on the same qrels (the data, labels, split and subset of the
other commands); the table has one row per run and query subset, and each run is
compared with ``baseline`` (an index into the runs) per query: wins/ties/losses, the
paired t-test and the paired randomisation test on nDCG@10 and MAP.
The comparison itself is :mod:`rankwright.evaluation.comparison`, re-exported here. Writes
``compare.json``, ``per_query.csv`` (one column group ``RUN:metric`` per run)
and ``compare.html``.
"""

from __future__ import annotations

from pathlib import Path

from rankwright.commands.evaluate import load_scores
from rankwright.data.loading import LoadedData, load_data
from rankwright.evaluation.comparison import (  # noqa: F401 (re-exported from their old home)
    CONVENTIONS,
    PER_QUERY_SHARED,
    Comparison,
    RunEntry,
    compare_runs,
    compared_metrics,
    per_query_table,
)
from rankwright.evaluation.config import CompareConfig
from rankwright.output_guard import claim_folder, writes_output

__all__ = [
    "CONVENTIONS",
    "CompareConfig",
    "Comparison",
    "LoadedData",
    "RunEntry",
    "check_runs",
    "compare_runs",
    "compared_metrics",
    "main",
    "per_query_table",
    "run_names",
]

#: what compare writes into its folder
OUTPUTS = ("compare.json", "per_query.csv", "compare.html", "figures")


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


@writes_output(lambda config: claim_folder(config.output_dir, OUTPUTS, overwrite=config.overwrite))
def main(config: CompareConfig) -> Comparison:
    if config.rounds < 1:
        raise ValueError(f"rounds (sign flips of the randomisation test) must be at least 1, got {config.rounds}")
    names = check_runs(config)
    loaded = load_data(config)
    runs = [(name, path, load_scores(path)) for name, path in zip(names, config.runs, strict=True)]
    return compare_runs(runs, loaded, config)
