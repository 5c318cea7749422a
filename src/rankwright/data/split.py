"""Splits by query (or by user): every row of a query lands in exactly one split.

Queries that share an id or a normalised text form one unit. Units are ordered by a
SHA-256 of (seed, unit key), so the same seed gives the same split on every machine
and Python version, and cut at the requested ratios.

``split.by: column`` keeps the data's own split instead (the published ESCI release's
``split``): test is the rows marked ``test``, and validation is carved out of the rows
marked ``train`` by the same seeded query split, ``ratios[1] / (ratios[0] + ratios[1])``
of the train queries.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pandas as pd

from rankwright.data.config import SPLIT_BY_COLUMN, SPLIT_NAMES, SplitConfig
from rankwright.data.readers.common import normalize_query
from rankwright.data.records import QUERY, QUERY_ID, SPLIT, RelevanceData

log = logging.getLogger(__name__)


class LeakageError(ValueError):
    """A query (id or normalised text) occurs in more than one split."""


def draw_queries(query_ids: pd.Series, n: int | None, seed: int) -> set[str] | None:
    """``n`` of the distinct ``query_ids`` (as strings) drawn with a generator seeded by
    ``seed``; the draw depends on the ids alone, not on their order. None when ``n`` is
    None or at least their number (every query)."""
    ids = np.array(sorted(query_ids.astype(str).unique()), dtype=object)
    if n is None or n >= len(ids):
        return None
    return set(np.random.default_rng(seed).choice(ids, size=n, replace=False).tolist())


def _units(pairs: pd.DataFrame, by: str) -> pd.Series:
    """Unit label per row: rows linked by the same id or normalised query text share a unit."""
    ids = pairs[by].astype(str).to_numpy()
    texts = pairs[QUERY].map(normalize_query).to_numpy() if by == QUERY_ID else ids
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    for qid, text in zip(ids, texts, strict=True):
        if not text:  # no text (a qrels file alone, or only invisible characters): the id alone
            continue
        a, b = find("id:" + qid), find("text:" + text)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return pd.Series([find("id:" + q) for q in ids], index=pairs.index)


def _rank_key(seed: int, unit: str) -> str:
    return hashlib.sha256(f"{seed}\x1f{unit}".encode()).hexdigest()


def assign_splits(pairs: pd.DataFrame, config: SplitConfig) -> pd.Series:
    """The split name of every row."""
    if len(config.ratios) != 3 or any(r < 0 for r in config.ratios) or sum(config.ratios) <= 0:
        raise ValueError(f"split.ratios must be three non-negative numbers (train, val, test), got {config.ratios}")
    if config.by == SPLIT_BY_COLUMN:
        return _given_splits(pairs, config)
    if config.by not in pairs:
        raise ValueError(f"split.by={config.by!r} is not a column; columns: {list(pairs.columns)}")
    units = _units(pairs, config.by)
    ordered = sorted(units.unique(), key=lambda u: _rank_key(config.seed, u))
    total = sum(config.ratios)
    n = len(ordered)
    cut1 = round(n * config.ratios[0] / total)
    cut2 = round(n * (config.ratios[0] + config.ratios[1]) / total)
    names = {
        u: SPLIT_NAMES[0] if i < cut1 else SPLIT_NAMES[1] if i < cut2 else SPLIT_NAMES[2] for i, u in enumerate(ordered)
    }
    return units.map(names)


def _given_splits(pairs: pd.DataFrame, config: SplitConfig) -> pd.Series:
    """``split.by: column``: train and test from the data's split column, validation
    carved out of train by the seeded query split."""
    if SPLIT not in pairs:
        raise ValueError(
            f"split.by={SPLIT_BY_COLUMN!r} takes train and test from the data's {SPLIT!r} column (the published "
            f"ESCI examples table has one), which this data lacks; columns: {list(pairs.columns)}"
        )
    given = pairs[SPLIT].astype("string").str.strip().str.lower()
    bad = ~given.isin(["train", "test"]).fillna(False)
    if bad.any():
        row = pairs[bad].iloc[0]
        raise ValueError(
            f"split.by={SPLIT_BY_COLUMN!r}: split value {row[SPLIT]!r} (query {row[QUERY_ID]!r}) is neither train "
            f"nor test ({int(bad.sum())} row(s) in all)"
        )
    mixed = given.groupby(pairs[QUERY_ID]).nunique()
    if (mixed > 1).any():
        raise ValueError(
            f"split.by={SPLIT_BY_COLUMN!r}: query {mixed[mixed > 1].index[0]!r} has rows in both train and test"
        )
    labels = given.astype(object)
    train = given == "train"
    if train.any():
        kept = config.ratios[0] + config.ratios[1]
        share = config.ratios[1] / kept if kept > 0 else 0.0
        inner = SplitConfig(ratios=[1.0 - share, share, 0.0], seed=config.seed)
        labels[train] = assign_splits(pairs[train], inner)
    return labels


def check_no_leakage(splits: dict[str, pd.DataFrame], by: str = QUERY_ID, *, texts: bool = True) -> None:
    """Raise :class:`LeakageError` if any id (or, for queries and unless ``texts`` is
    false, normalised text) is in two splits."""
    seen: dict[str, str] = {}
    for name, frame in splits.items():
        keys = {"id " + str(v) for v in frame[by].unique()}
        if by == QUERY_ID and texts:
            texts = {normalize_query(t) for t in frame[QUERY].unique()}
            keys |= {"query text " + repr(t) for t in texts if t}
        for key in keys:
            other = seen.setdefault(key, name)
            if other != name:
                raise LeakageError(f"{key} is in both the {other} and the {name} split")


def split_data(data: RelevanceData, config: SplitConfig) -> dict[str, RelevanceData]:
    """Split ``data`` by query (or ``config.by``) and check that nothing leaks."""
    labels = assign_splits(data.pairs, config)
    parts = {name: data.pairs[labels == name].reset_index(drop=True) for name in SPLIT_NAMES}
    if config.by == SPLIT_BY_COLUMN:
        _check_given_splits(parts)
    else:
        check_no_leakage(parts, config.by)
    out = {}
    for name, frame in parts.items():
        queries = None
        if data.queries is not None:
            wanted = set(frame[QUERY_ID])
            queries = {q: t for q, t in data.queries.items() if q in wanted}
        eval_only = data.eval_only_of(set(frame[QUERY_ID]))
        out[name] = RelevanceData(
            frame, data.report, data.corpus, queries, data.format, eval_only, data.labels, data.layout
        )
    return out


def _check_given_splits(parts: dict[str, pd.DataFrame]) -> None:
    """The given split is kept as it is: no query id in two splits, no normalised query
    text in train and val (carved here); test queries whose text is also a train or val
    query's are counted and logged, not moved."""
    check_no_leakage(parts, QUERY_ID, texts=False)
    check_no_leakage({name: parts[name] for name in ("train", "val")}, QUERY_ID)
    seen = {normalize_query(t) for name in ("train", "val") for t in parts[name][QUERY].unique()}
    shared = {q for q in parts["test"][QUERY].unique() if normalize_query(q) in seen}
    if shared:
        log.warning(
            "split.by=%s keeps the given split: %d test query text(s) also occur (normalised) as train or val "
            "queries, e.g. %r",
            SPLIT_BY_COLUMN,
            len(shared),
            sorted(shared)[0],
        )
