"""The text a person reads after ``rankwright pairs``: what went in, what came out,
what was dropped and why, the leakage check, time and memory."""

from __future__ import annotations

from typing import Any

from rankwright.interactions.splitting import SPLITS


def _drops(section: dict[str, Any]) -> str:
    reasons = section.get("dropped_by_reason") or {}
    text = f"{section['rows_in']} rows in = {section['rows_used']} used + {section['rows_dropped']} dropped"
    if reasons:
        text += " (" + ", ".join(f"{r}: {n}" for r, n in sorted(reasons.items())) + ")"
    return text


def _per_split(values: dict[str, int]) -> str:
    return ", ".join(f"{split} {values.get(split, 0)}" for split in SPLITS)


def format_summary(summary: dict[str, Any]) -> str:
    """Summary lines of a build (a summary without a build gives only its folder)."""
    head = ""
    if summary.get("rebuilt") is False:
        head = (
            f"pairs in {summary.get('output_dir')} (not rebuilt; the counts below are from the build that wrote them)\n"
        )
    if "rows" not in summary:
        return head
    users, positives, negatives = summary["users"], summary["positives"], summary["negatives"]
    lines = [
        f"interactions: {_drops(summary['interactions'])}",
        f"items: {_drops(summary['items'])}",
        f"users: {users['with_interactions']} with interactions, {users['kept']} kept, "
        f"{users['dropped_fewer_than_min_positives']} dropped with fewer than "
        f"{summary['config']['positives']['min_per_user']} positives",
        f"positives: {positives['available']} available; used {_per_split(positives['used_per_split'])}; "
        f"{positives['dropped_over_per_user_cap']} over the per-user cap, "
        f"{positives['dropped_with_their_user']} with dropped users",
        f"negatives: random {_per_split(negatives['random_per_split'])}; hard {_per_split(negatives['hard_per_split'])}"
        f"; short {sum(negatives['short_per_split'].values())}",
        f"rows: {_per_split(summary['rows'])} (groups: {_per_split(summary['groups'])})",
    ]
    leakage = summary["leakage"]
    if leakage["ok"]:
        lines.append(
            f"leakage check (split by {leakage['split_by']}): passed on {leakage['users_checked']} users, "
            f"{leakage['groups_checked']} contexts"
        )
    else:
        failed = {k: v for k, v in leakage["violations"].items() if v}
        lines.append(f"leakage check (split by {leakage['split_by']}): FAILED {failed}")
    seconds, memory = summary["seconds"], summary["memory"]
    workers = memory.get("worker_peak_mib") or {}
    worker_text = f", workers peak {max(workers.values()):.0f} MiB each at most ({len(workers)})" if workers else ""
    lines.append(
        f"dask: {summary['dask']['cluster']}, {summary['dask']['npartitions']} partitions; "
        f"time {seconds['total']:.1f} s (read {seconds['read_and_count']:.1f}, build {seconds['build']:.1f}, "
        f"merge {seconds['merge']:.1f}); memory: this process peak {memory['client_peak_mib']:.0f} MiB{worker_text}"
    )
    for split in SPLITS:
        for kind, path in (summary["files"].get(split) or {}).items():
            lines.append(f"{split} {kind}: {path}")
    return head + "\n".join(lines) + "\n"
