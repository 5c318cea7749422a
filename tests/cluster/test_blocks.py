"""Blocks are whole queries in order of first appearance, fixed by the data and the
block size alone; partitions group consecutive blocks."""

from __future__ import annotations

import numpy as np
import pytest

from rankwright.cluster.blocks import chunks, partition, query_blocks


def test_a_query_s_rows_stay_in_one_block_wherever_they_are():
    ids = ["a", "a", "b", "c", "b", "d", "d", "d", "e"]
    blocks = query_blocks(ids, 3)
    assert [b.tolist() for b in blocks] == [[0, 1, 2, 4], [3, 5, 6, 7], [8]]
    for block in blocks:
        queries = {ids[i] for i in block}
        assert all(ids[i] not in queries for other in blocks if other is not block for i in other)


def test_every_row_once_and_block_sizes():
    rng = np.random.default_rng(0)
    ids = [f"q{i}" for i in rng.integers(0, 40, size=500)]
    blocks = query_blocks(ids, 32)
    rows = np.concatenate(blocks)
    assert sorted(rows.tolist()) == list(range(500))
    assert all(len(b) >= 32 for b in blocks[:-1])


def test_no_rows_no_blocks_and_a_bad_size_is_an_error():
    assert query_blocks([], 4) == []
    with pytest.raises(ValueError, match="at least 1"):
        query_blocks(["a"], 0)
    with pytest.raises(ValueError, match="at least 1"):
        chunks([1, 2], 0)


def test_chunks():
    assert [list(c) for c in chunks(list(range(7)), 3)] == [[0, 1, 2], [3, 4, 5], [6]]


@pytest.mark.parametrize(("blocks", "parts"), [(10, 4), (2, 8), (1, 1), (9, 9), (100, 7)])
def test_partitions_are_consecutive_and_cover_every_block(blocks, parts):
    ranges = partition(blocks, parts)
    assert len(ranges) == min(blocks, parts)
    assert [i for r in ranges for i in r] == list(range(blocks))
    sizes = [len(r) for r in ranges]
    assert max(sizes) - min(sizes) <= 1
