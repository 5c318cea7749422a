"""Cutting a job into blocks: the unit of work whose result does not depend on where
it runs. A block is scored (or mined, or retrieved) as one call, so its batches are
the same in one process and on any number of workers, and the outputs are identical."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` cut into consecutive runs of ``size`` (the last one shorter)."""
    if size < 1:
        raise ValueError(f"a block must hold at least 1 item, got {size}")
    return [items[i : i + size] for i in range(0, len(items), size)]


def query_blocks(query_ids: Sequence[str], size: int) -> list[np.ndarray]:
    """Row indices of ``query_ids`` cut into blocks of whole queries: a query's rows
    (wherever they are) go to the block of its first row, queries in order of first
    appearance, and a block closes once it holds ``size`` rows or more."""
    if size < 1:
        raise ValueError(f"a block must hold at least 1 pair, got {size}")
    codes, _ = _first_appearance_codes(query_ids)
    order = np.argsort(codes, kind="stable")  # rows grouped by query, queries in order of appearance
    sorted_codes = codes[order]
    ends = np.r_[np.flatnonzero(sorted_codes[1:] != sorted_codes[:-1]) + 1, len(order)] if len(order) else []
    blocks: list[np.ndarray] = []
    begin = 0
    for end in ends:
        if end - begin >= size or end == len(order):
            blocks.append(order[begin:end])
            begin = end
    return blocks


def _first_appearance_codes(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    seen: dict[str, int] = {}
    codes = np.fromiter((seen.setdefault(v, len(seen)) for v in values), dtype=np.int64, count=len(values))
    return codes, list(seen)


def partition(n_blocks: int, n_partitions: int) -> list[range]:
    """Block indices ``0..n_blocks-1`` in ``n_partitions`` (or fewer) consecutive ranges of near-equal size."""
    n = max(1, min(n_partitions, n_blocks))
    bounds = np.linspace(0, n_blocks, n + 1).round().astype(int)
    return [range(a, b) for a, b in itertools.pairwise(bounds) if b > a]
