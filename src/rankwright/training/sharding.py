"""Per-process shares of each epoch's batches, for data-parallel training.

Every process builds the same epoch order (the seeded sampler, drawn identically on
all ranks), cuts it into *global* batches of ``per_device_batch_size * world_size``
examples, which are the batches a single process with that batch size would train
on, and keeps its strided share of each: rank r takes positions r, r + W, ... of the
global batch. The shares are disjoint, together they are the global batch, and every
rank yields the same number of batches, so every example of the epoch is seen exactly
once and no rank waits on another at a gradient all-reduce. When the epoch's last
global batch has fewer examples than there are ranks, a rank's share is empty: it
yields an empty list, which the collator turns into a masked placeholder batch (the
rank still runs the model, so the all-reduce happens, but adds nothing).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from torch.utils.data import Sampler


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """``[lo, hi)`` of rank ``rank``'s contiguous, near-equal share of ``n`` items."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside a world of {world_size} processes")
    return n * rank // world_size, n * (rank + 1) // world_size


class RankBatchSampler(Sampler[list[int]]):
    """This rank's share of every global batch of ``sampler``'s epoch order.

    ``sampler`` yields dataset indices and must give the same order on every rank (a
    seeded permutation; ``set_epoch`` is forwarded to it). With ``world_size`` 1 this
    is a plain batch sampler. The per-device batch size is deliberately not exposed as
    ``batch_size``: accelerate would then pad short batches with repeated examples.
    """

    def __init__(self, sampler: Sampler[int], per_device_batch_size: int, rank: int = 0, world_size: int = 1):
        if per_device_batch_size < 1:
            raise ValueError(f"per-device batch size must be at least 1, got {per_device_batch_size}")
        shard_bounds(0, rank, world_size)  # checks the rank
        self.sampler = sampler
        self.per_device_batch_size = per_device_batch_size
        self.rank = rank
        self.world_size = world_size

    @property
    def global_batch_size(self) -> int:
        return self.per_device_batch_size * self.world_size

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.global_batch_size)

    def global_batches(self) -> Iterator[list[int]]:
        """The epoch's global batches: what a single process with the global batch size trains on."""
        order = list(self.sampler)
        size = self.global_batch_size
        for start in range(0, len(order), size):
            yield order[start : start + size]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.global_batches():
            yield batch[self.rank :: self.world_size]
