"""The one internal representation every reader produces.

A :class:`RelevanceData` holds judged (query, document, label) pairs in a pandas
table with fixed column names, plus, for collections, the full corpus and query set,
and a :class:`DropReport` that accounts for every input row that was not used.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rankwright.data.columns import (  # noqa: F401 (re-exported from their old home)
    DOC,
    DOC_ID,
    EVALUATION_ONLY,
    GROUP,
    HARD,
    LABEL,
    PAIR_COLUMNS,
    PROBABILITY,
    QRELS_ONLY,
    QUERY,
    QUERY_ID,
    SCORE,
    SPLIT,
)
from rankwright.data.config import LabelConfig

log = logging.getLogger(__name__)


class DataError(ValueError):
    """Bad input that cannot be used: the message names the file, line/row and problem."""

    def __init__(self, source: str, problem: str, *, line: int | None = None, row: int | None = None):
        where = source
        if line is not None:
            where += f", line {line}"
        if row is not None:
            where += f", row {row}"
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.line = line
        self.row = row
        self.problem = problem


@dataclass
class DropReport:
    """Counts input rows by fate, so that rows in = rows used + rows dropped."""

    source: str = ""
    rows_in: int = 0
    dropped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Used rows that are judgments on documents without text: evaluated, never trained on or scored.
    evaluation_only: int = 0

    def drop(self, reason: str, n: int = 1, example: str | None = None) -> None:
        if n <= 0:
            return
        self.dropped[reason] += n
        if example is not None:
            shown = self.examples.setdefault(reason, [])
            if len(shown) < 3:
                shown.append(example)

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def rows_used(self) -> int:
        return self.rows_in - self.rows_dropped

    def merge(self, other: DropReport) -> None:
        self.rows_in += other.rows_in
        for reason, n in other.dropped.items():
            self.dropped[reason] += n
        for reason, shown in other.examples.items():
            mine = self.examples.setdefault(reason, [])
            mine.extend(shown[: max(0, 3 - len(mine))])
        self.notes.extend(other.notes)
        self.evaluation_only += other.evaluation_only

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows_in": self.rows_in,
            "rows_used": self.rows_used,
            "rows_dropped": self.rows_dropped,
            "evaluation_only": self.evaluation_only,
            "dropped_by_reason": dict(self.dropped),
            "examples": self.examples,
            "notes": self.notes,
        }

    def summary(self) -> str:
        text = f"{self.source}: {self.rows_in} rows in = {self.rows_used} used + {self.rows_dropped} dropped"
        if self.evaluation_only:
            text += f"; {self.evaluation_only} {EVALUATION_ONLY}"
        if self.dropped:
            text += " (" + ", ".join(f"{r}: {n}" for r, n in sorted(self.dropped.items())) + ")"
        return text


@dataclass
class RelevanceData:
    """Judged pairs plus, where the source has them, the whole corpus and query set.

    ``pairs`` has the columns :data:`PAIR_COLUMNS` (ids and texts are strings;
    ``label`` is the raw label: a number for grades, a string for named classes) and
    may carry :data:`SCORE`, :data:`GROUP`, :data:`HARD` and metadata columns.
    ``corpus`` maps doc_id to text and ``queries`` maps query_id to text for
    collections (BEIR, SMART) that are retrieved from rather than reranked.
    ``eval_only`` holds the judgments (query_id, doc_id, label, source_row) on documents
    without text: they are in the evaluation qrels (a judged relevant document counts in
    recall and nDCG denominators, as trec_eval counts it) but not in ``pairs`` or the
    corpus, so nothing trains on or scores them.
    ``labels`` is the label scheme the source itself defines (the published ESCI release:
    the KDD Cup gains; Home Depot: graded 1..3), which fills the label keys a user leaves
    unset; ``layout`` names the known layout it comes from.
    """

    pairs: pd.DataFrame
    report: DropReport
    corpus: dict[str, str] | None = None
    queries: dict[str, str] | None = None
    format: str = ""
    eval_only: pd.DataFrame | None = None
    labels: LabelConfig | None = None
    layout: str | None = None

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def has_texts(self) -> bool:
        """False for a qrels file read alone (its query and document texts are empty)."""
        return self.format != QRELS_ONLY

    @property
    def n_queries(self) -> int:
        return int(self.pairs[QUERY_ID].nunique())

    def documents(self) -> dict[str, str]:
        """Every document text known: the corpus if there is one, else the pairs'."""
        if self.corpus is not None:
            return self.corpus
        docs = self.pairs.drop_duplicates(DOC_ID)
        return dict(zip(docs[DOC_ID], docs[DOC], strict=True))

    def query_texts(self) -> dict[str, str]:
        """Every query text known: the query set if there is one, else the pairs'."""
        if self.queries is not None:
            return self.queries
        first = self.pairs.drop_duplicates(QUERY_ID)
        return dict(zip(first[QUERY_ID], first[QUERY], strict=True))

    def subset(self, query_ids: set[str]) -> RelevanceData:
        pairs = self.pairs[self.pairs[QUERY_ID].isin(query_ids)].reset_index(drop=True)
        queries = None if self.queries is None else {q: t for q, t in self.queries.items() if q in query_ids}
        eval_only = self.eval_only_of(query_ids)
        return RelevanceData(pairs, self.report, self.corpus, queries, self.format, eval_only, self.labels, self.layout)

    def eval_only_of(self, query_ids: set[str]) -> pd.DataFrame | None:
        """The evaluation-only judgments of ``query_ids``."""
        if self.eval_only is None:
            return None
        return self.eval_only[self.eval_only[QUERY_ID].isin(query_ids)].reset_index(drop=True)


def is_missing(value: Any) -> bool:
    """True for None, NaN and blank strings."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
