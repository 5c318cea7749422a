"""The ``rankwright`` command line: ``rankwright <command> [--config FILE] [--key value ...]``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any, TextIO

from rankwright import __version__
from rankwright.cluster.errors import WorkerError
from rankwright.commands.registry import COMMANDS
from rankwright.config import ConfigError, add_arguments, build_config
from rankwright.data.columns import EVALUATION_ONLY

log = logging.getLogger("rankwright")


def build_parser() -> argparse.ArgumentParser:
    """Every command's flags, from the config dataclasses alone (no torch, transformers or pandas)."""
    parser = argparse.ArgumentParser(prog="rankwright", description=__doc__, allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"rankwright {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        cmd = sub.add_parser(name, help=command.help, description=command.help, allow_abbrev=False)
        config_class = command.config_class()
        cmd.add_argument("--config", help=_config_help(name, config_class))
        add_arguments(cmd, config_class)
    return parser


def _config_help(name: str, config_class: type) -> str:
    text = "YAML file with defaults for the flags below: keys at the top level are shared with other commands"
    if name in {f.name for f in fields(config_class)}:  # split, bm25: the name is a setting, not a section
        return f"{text} (their sections and keys are skipped)"
    return f"{text}, a section {name}: holds this command's own (other sections and commands' keys are skipped)"


def _report(command: str, result: Any) -> None:
    """What a person reads after a command: the table and where the files are."""
    report = _REPORTS.get(command)
    if report is not None:
        report(sys.stdout, result)


def _paths(out: TextIO, paths: dict[str, Any]) -> None:
    out.write("\n".join(f"{k}: {v}" for k, v in paths.items()) + "\n")


def _report_evaluate(out: TextIO, result: Any) -> None:
    data = result.metrics["data"]
    out.write(f"data: {data['rows_in']} rows in = {data['rows_used']} used + {data['rows_dropped']} dropped")
    out.write(f" {data['dropped_by_reason']}\n" if data["dropped_by_reason"] else "\n")
    if data.get("evaluation_only"):
        out.write(f"data: {data['evaluation_only']} {EVALUATION_ONLY}\n")
    if "bm25" in result.metrics:
        out.write(f"bm25: {result.metrics['bm25']}\n")
    labels = result.metrics["labels"]
    out.write(f"labels: {labels['scheme']}, relevant when gain >= {labels['relevant_gain']}\n\n")
    out.write(result.table + "\n")
    for warning in (result.metrics.get("against_baselines") or {}).get("warnings", []):
        out.write(warning + "\n")
    classification = result.metrics.get("classification", {})
    if "classes" in classification:
        from rankwright.evaluation.report import format_classes

        out.write("\n" + format_classes(classification["classes"], classification["by_label"]) + "\n")
    binary = classification.get("binary")
    if binary and binary.get("roc_auc") is not None:
        out.write(f"\npairs: ROC-AUC {binary['roc_auc']:.4f}, average precision {binary['average_precision']:.4f}\n")
    out.write("\n")
    _paths(out, result.paths)


def _report_compare(out: TextIO, result: Any) -> None:
    labels = result.metrics["labels"]
    out.write(f"data: {result.metrics['data']['source']} ({result.metrics['subset']}, {len(result.per_query)} ")
    out.write(f"judged queries); labels {labels['scheme']}, relevant when gain >= {labels['relevant_gain']}\n")
    if result.metrics["data"].get("evaluation_only"):
        out.write(f"data: {result.metrics['data']['evaluation_only']} {EVALUATION_ONLY}\n")
    out.write("\n")
    out.write(result.table + "\n\n")
    out.write(f"paired tests against the baseline {result.baseline}:\n{result.comparison}\n\n")
    _paths(out, result.paths)


def _report_train(out: TextIO, result: Any) -> None:
    out.write(f"final model: {result.final_dir}\n")
    if result.best_dir:
        out.write(f"best model:  {result.best_dir} ({result.metrics['best_validation']})\n")
    m = result.metrics
    validating = m.get("validation_runtime_s") or 0.0
    out.write(f"training: {m['train_runtime_s']:.1f} s")
    out.write(f" ({validating:.1f} s of it validating)" if validating else "")
    out.write(f", {m['pairs_per_second'] or 0:.1f} pairs/s (training steps only, validation excluded)\n")
    baselines = m.get("baselines") or {}
    if "skipped" in baselines:
        out.write(f"validation against baselines: skipped ({baselines['skipped']})\n")
    elif baselines:
        out.write(f"validation against baselines: {baselines['line']}\n")
        out.write("".join(f"{warning}\n" for warning in baselines["warnings"]))
    for name, path in (result.metrics.get("files") or {}).items():
        out.write(f"{name.replace('_', ' ')}: {path}\n")
    calibration = result.metrics.get("calibration")
    if not calibration:
        return
    for folder, c in (("", calibration), ("best model ", calibration.get("best"))):
        if not c:
            continue
        out.write(f"{folder}calibration: {calibration['method']} on {c['fitted_on']}; ")
        if c["ece_before"] is None:
            out.write("no test queries to report ECE on\n")
        else:
            out.write(f"ECE on test ({c['test_pairs']} pairs): {c['ece_before']:.4f} -> {c['ece_after']:.4f}\n")


def _report_quickstart(out: TextIO, result: Any) -> None:
    out.write("rankwright quickstart: synthetic demo product search (rankwright.demo), held-out test queries\n\n")
    out.write(result.table + "\n\n")
    out.write(f"{result.metrics['seconds']:.0f} s in all\n")
    _paths(out, result.paths)


def _report_split(out: TextIO, paths: dict[str, str]) -> None:
    """Rows in, used and dropped (by reason), then queries and rows per split, from split.json."""
    import json

    with open(paths["summary"], encoding="utf-8") as handle:
        summary = json.load(handle)
    data = summary["data"]
    out.write(f"data: {data['source']}: {data['rows_in']} rows in = {data['rows_used']} used + ")
    reasons = ", ".join(f"{r}: {n}" for r, n in sorted(data["dropped_by_reason"].items()))
    out.write(f"{data['rows_dropped']} dropped" + (f" ({reasons})\n" if reasons else "\n"))
    if data.get("evaluation_only"):
        out.write(f"data: {data['evaluation_only']} {EVALUATION_ONLY}\n")
    out.write(f"split by query, ratios {summary['ratios']}, seed {summary['seed']}:\n")
    for name, part in summary["splits"].items():
        out.write(f"  {name:<5} {part['queries']:>7} queries {part['pairs']:>9} rows  {part['file']}\n")
    if "beir_folder" in summary:
        out.write(f"BEIR folder (corpus.jsonl, queries.jsonl, qrels/): {summary['beir_folder']}\n")
    out.write(f"summary: {paths['summary']}\n")


def _report_calibrate(out: TextIO, result: dict[str, Any]) -> None:
    out.write(f"calibration: {result['method']} fitted on {result['fitted_on']} ({result['pairs']} pairs)\n")
    if "report" in result:
        r = result["report"]
        out.write(f"ECE on {r['subset']} ({r['pairs']} pairs): {r['ece_before']:.4f} -> {r['ece_after']:.4f}\n")


def _report_mine(out: TextIO, r: dict[str, Any]) -> None:
    out.write(f"queries: {r['queries_in']} in, {r['queries_written']} written, ")
    out.write(f"{r['queries_without_positive']} without a relevant document skipped\n")
    recall = r["positive_recall_at_last_rank"]
    out.write(f"positives: {r['positives']} ({'-' if recall is None else f'{recall:.1%}'} retrieved ")
    out.write(f"within rank {r['mining']['ranks'][1]})\n")
    out.write(f"negatives: {r['negatives']} from {r['candidates_in_window']} window candidates")
    out.write(f", {r['dropped_by_teacher']} dropped by the teacher" if r["teacher"] else "")
    out.write(f"; {r['queries_short_of_negatives']} queries got fewer than {r['mining']['negatives']}\n")
    out.write(f"time: index {r['seconds']['index']} s, mining {r['seconds']['mine']} s\n")
    out.write(f"wrote {r['output']} and {r['summary']}\n")


def _report_retrieve_rerank(out: TextIO, result: Any) -> None:
    out.write(f"setting: {result.metrics['setting']}\n")
    if result.metrics["oracle"]:
        o = result.metrics["oracle"]
        out.write(f"ORACLE: {o['documents_injected']} judged relevant documents injected into ")
        out.write(f"{o['queries_with_injections']} queries; an upper bound, not the system's result\n")
    out.write(f"candidates: {result.metrics['candidates']}\n\n{result.table}\n\n{result.comparison}\n\n")
    _paths(out, result.paths)


def _report_export(out: TextIO, result: Any) -> None:
    from rankwright.commands.export import describe_export

    out.write(describe_export(result) + "\n")


def _report_pairs(out, result) -> None:
    """Rows per split, users and positives dropped, the leakage check, time, memory, the metrics table."""
    from rankwright.interactions.report import format_summary

    out.write(format_summary(result.summary))
    if result.table:
        out.write(f"\n{result.table}\n")
    if result.selection:
        from rankwright.evaluation.significance import format_comparison

        s = result.selection
        out.write("\nselection on the validation users (nDCG@10): ")
        out.write(", ".join(f"{name} {value:.4f}" for name, value in s["validation"].items()) + "\n")
        out.write("\n".join(s["messages"]) + "\npaired tests on the test users:\n")
        for name, c in s["paired_tests"].items():
            out.write(format_comparison(*name.split(" vs "), c) + "\n")
    out.write("\n" + "\n".join(f"{k}: {v}" for k, v in result.paths.items()) + "\n")


def _report_fuse(out, result: dict[str, Any]) -> None:
    """Every fusion candidate's validation nDCG@10 (each component alone included) and the chosen one."""
    fusion, table = result["fusion"], result["table"]
    metric = fusion["validation"]["metric"]
    out.write(f"fusion candidates: validation {metric} on {result['queries']} queries ({result['candidates']} pairs)\n")
    width = max(len(c) for c in table["candidate"])
    for candidate, value, chosen in zip(table["candidate"], table[metric], table["chosen"], strict=True):
        out.write(f"{'*' if chosen else ' '} {candidate:<{width}}  {value:.4f}\n")
    chosen = table.loc[table["chosen"], "candidate"].iloc[0]
    out.write(f"\nchosen: {chosen} ({metric} {fusion['validation']['chosen']:.4f}); ")
    alone = ", ".join(f"{c} alone {v:.4f}" for c, v in fusion["validation"]["alone"].items())
    out.write(f"{alone}\nfitted on {fusion['fitted_on']}; written to the model's rankwright.json\n")


def _report_recipe(out, result) -> None:
    """The selection on validation, the guard rail's words, the test table and paired tests."""
    m = result.metrics
    q = m["queries"]
    out.write(f"queries: {q['train']} train (of {q['train_available']}), {q['val']} validation, {q['test']} test\n")
    out.write(f"first stage: {m['first_stage']['kind']} over {m['first_stage']['candidates']}\n\n")
    out.write("selection on the validation queries (nDCG@10):\n")
    for name, value in m["selection"]["validation"].items():
        out.write(f"  {name:<12} {value:.4f}\n")
    out.write("\n" + "\n".join(result.messages) + "\n\n")
    out.write(f"test queries:\n{result.table}\n\npaired tests on the test queries:\n{result.comparisons}\n\n")
    out.write("\n".join(f"{k}: {v}" for k, v in result.paths.items()) + "\n")


_REPORTS: dict[str, Callable[[TextIO, Any], None]] = {
    "evaluate": _report_evaluate,
    "compare": _report_compare,
    "train": _report_train,
    "quickstart": _report_quickstart,
    "calibrate": _report_calibrate,
    "fuse": _report_fuse,
    "mine": _report_mine,
    "recipe": _report_recipe,
    "retrieve-rerank": _report_retrieve_rerank,
    "split": _report_split,
    "export": _report_export,
    "pairs": _report_pairs,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    command = COMMANDS[args.command]
    try:
        every = {name: c.config_class() for name, c in COMMANDS.items()}  # one file can serve them all
        config = build_config(command.config_class(), args, every)
        log.debug("config: %s", asdict(config))
        result = command.runner()(config)  # the command's module (torch, pandas, ...) loads here
    # DataError; a model or file not found; extras; a Dask task that failed on a worker
    except (ConfigError, ValueError, OSError, ImportError, WorkerError) as err:
        log.error("%s", err, exc_info=args.verbose)  # -v: with the traceback
        return 2
    except KeyboardInterrupt as err:  # Ctrl-C; an Interrupted says what the command left behind
        log.error("interrupted: rankwright %s; %s", args.command, str(err) or "stopped")
        return 130
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one report (rank 0's)
        _report(args.command, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
