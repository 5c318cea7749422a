"""The leakage check of built pairs against the interactions they came from.

It re-derives every rule from the rows and the raw interactions, not from the code
that built them:

- a positive never appears in its own context (leave-one-out);
- split by user: no user has rows in two splits;
- split by time, for each held-out (val/test) positive h of a user: h is not a row
  of that user's earlier splits (train; for test also val), h is in no context of
  the user's groups up to its own split, and none of those contexts names an item
  the user interacted with later than h;
- a context names only items the user interacted with.

The pipeline runs it on every partition and reports the counts in the summary; the
tests also run it on the written files.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rankwright.interactions.reading import ITEM, TIMESTAMP, USER

SPLIT_RANK = {"train": 0, "val": 1, "test": 2}
CHECKS = (
    "positive in its own context",
    "user in more than one split",
    "held-out item in an earlier split's rows",
    "held-out item in a context",
    "context uses an interaction later than the held-out item",
    "context names an item the user never interacted with",
)


class PairLeakageError(ValueError):
    """Built pairs break a leakage rule; the message names the rule and an example."""


@dataclass
class LeakageReport:
    """Violations per rule (every rule listed, 0 when it holds) and examples."""

    split_by: str
    users_checked: int = 0
    groups_checked: int = 0
    violations: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, check: str, n: int, example: str) -> None:
        if n <= 0:
            return
        self.violations[check] += n
        shown = self.examples.setdefault(check, [])
        if len(shown) < 3:
            shown.append(example)

    def merge(self, other: LeakageReport) -> None:
        self.users_checked += other.users_checked
        self.groups_checked += other.groups_checked
        for check, n in other.violations.items():
            self.violations[check] += n
        for check, shown in other.examples.items():
            mine = self.examples.setdefault(check, [])
            mine.extend(shown[: max(0, 3 - len(mine))])

    @property
    def ok(self) -> bool:
        return not sum(self.violations.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "split_by": self.split_by,
            "users_checked": self.users_checked,
            "groups_checked": self.groups_checked,
            "violations": {check: int(self.violations.get(check, 0)) for check in CHECKS},
            "examples": self.examples,
            "ok": self.ok,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeakageReport:
        report = cls(data["split_by"], data["users_checked"], data["groups_checked"])
        report.violations.update({k: v for k, v in data["violations"].items() if v})
        report.examples = {k: list(v) for k, v in data["examples"].items()}
        return report

    def raise_if_leaking(self) -> None:
        if not self.ok:
            check = next(c for c in CHECKS if self.violations.get(c))
            raise PairLeakageError(
                f"leakage check failed: {self.violations[check]} x {check!r}, e.g. {self.examples[check][0]}"
            )


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [str(v) for v in json.loads(value)]
    if value is None:
        return []
    return [str(v) for v in value]


def _latest_times(interactions: pd.DataFrame) -> dict[str, dict[str, int]]:
    """user -> item -> time of the user's latest interaction with it."""
    latest = interactions.groupby([USER, ITEM], sort=False)[TIMESTAMP].max()
    out: dict[str, dict[str, int]] = {}
    for (user, item), time in latest.items():
        out.setdefault(str(user), {})[str(item)] = int(time)
    return out


def check_leakage(rows: pd.DataFrame, interactions: pd.DataFrame, split_by: str) -> LeakageReport:
    """Check built ``rows`` (user_id, query_id, doc_id, label, split, context_items)
    against the canonical ``interactions`` of the same users."""
    report = LeakageReport(split_by)
    if rows.empty:
        return report
    times = _latest_times(interactions.assign(**{USER: interactions[USER].astype(str)}))
    by_user: dict[str, list[tuple[str, bool, str, str]]] = {}
    contexts: dict[str, tuple[str, list[str]]] = {}
    columns = [rows[c].tolist() for c in ("user_id", "query_id", "doc_id", "label", "split", "context_items")]
    for user, query_id, item, label, split, context in zip(*columns, strict=True):
        user, item = str(user), str(item)
        by_user.setdefault(user, []).append((item, float(label) > 0, split, query_id))
        if query_id not in contexts:
            contexts[query_id] = (split, _as_list(context))
    report.groups_checked = len(contexts)
    for user, user_rows in by_user.items():
        report.users_checked += 1
        known = times.get(user, {})
        user_groups = {q: contexts[q] for q in dict.fromkeys(r[3] for r in user_rows)}
        _check_user(report, user, user_rows, user_groups, known, split_by)
    return report


def _check_user(
    report: LeakageReport,
    user: str,
    user_rows: list[tuple[str, bool, str, str]],
    user_groups: dict[str, tuple[str, list[str]]],
    known: dict[str, int],
    split_by: str,
) -> None:
    for item, positive, _, query_id in user_rows:
        if positive and item in user_groups[query_id][1]:
            report.add(CHECKS[0], 1, f"user {user!r}: item {item!r} is in its own context ({query_id})")
    splits = sorted({r[2] for r in user_rows}, key=SPLIT_RANK.get)
    if split_by == "user" and len(splits) > 1:
        report.add(CHECKS[1], 1, f"user {user!r} has rows in {splits}")
    for query_id, (_, context) in user_groups.items():
        unknown = [c for c in context if c not in known]
        if unknown:
            report.add(CHECKS[5], len(unknown), f"user {user!r}: context of {query_id} names {unknown[0]!r}")
    if split_by != "time":
        return
    for item, positive, split, _ in user_rows:
        level = SPLIT_RANK[split]
        if not positive or level == 0:
            continue
        earlier = [r[2] for r in user_rows if r[0] == item and SPLIT_RANK[r[2]] < level]
        if earlier:
            report.add(CHECKS[2], len(earlier), f"user {user!r}: {split} item {item!r} is a {earlier[0]} row")
        cutoff = known.get(item, np.iinfo(np.int64).max)
        for query_id, (group_split, context) in user_groups.items():
            if SPLIT_RANK[group_split] > level:
                continue
            if item in context:
                report.add(CHECKS[3], 1, f"user {user!r}: {split} item {item!r} is in the context of {query_id}")
            later = [c for c in context if known.get(c, -1) > cutoff]
            if later:
                report.add(
                    CHECKS[4],
                    len(later),
                    f"user {user!r}: context of {query_id} names {later[0]!r} (time {known[later[0]]}), "
                    f"later than {split} item {item!r} (time {cutoff})",
                )
