"""The few collectives data-parallel training needs; each is the identity in one process.

``global_batch`` makes the loss of a data-parallel step the loss of the global batch:
every rank gathers the other ranks' scores (detached), labels and masks, and computes
the loss on the whole batch, its own scores keeping their gradient. With
``scale_gradient`` (value unchanged, gradient times the world size) the average that
DDP takes over ranks of these gradients is the single-process gradient of that
global batch, for every loss (means over groups, over valid pairs, over kept groups),
not only for losses whose per-rank means happen to average to the global mean.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist

T = TypeVar("T")


def world_size() -> int:
    """Processes in the default process group (1 when there is none)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank in the default process group (0 when there is none)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _pad(tensor: torch.Tensor, rows: int, cols: int, value: float | bool = 0) -> torch.Tensor:
    """``tensor`` ([rows', cols', ...]) padded with ``value`` to [rows, cols, ...]; keeps the gradient."""
    extra_cols = cols - tensor.shape[1]
    if extra_cols:
        fill = tensor.new_full((tensor.shape[0], extra_cols, *tensor.shape[2:]), value)
        tensor = torch.cat([tensor, fill], dim=1)
    extra_rows = rows - tensor.shape[0]
    if extra_rows:
        fill = tensor.new_full((extra_rows, *tensor.shape[1:]), value)
        tensor = torch.cat([tensor, fill], dim=0)
    return tensor


def _all_gather(tensor: torch.Tensor) -> list[torch.Tensor]:
    parts = [torch.empty_like(tensor) for _ in range(world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return parts


def global_batch(
    scores: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The global batch's ``[groups, docs(, classes)]`` scores, labels and mask.

    Rank r holds global rows r, r + W, ... (``RankBatchSampler``); a rank whose mask
    is all False holds a placeholder and no rows. The result is in global row order,
    padded to the widest group, as one process would have collated it; only this
    rank's rows carry a gradient.
    """
    size, me = world_size(), rank()
    if size == 1:
        return scores, labels, mask
    real = mask.any(dim=1)
    scores, labels, mask = scores[real], labels[real], mask[real]
    shape = torch.tensor([scores.shape[0], scores.shape[1]], dtype=torch.long, device=scores.device)
    shapes = [tuple(int(v) for v in s) for s in _all_gather(shape)]
    rows = max(r for r, _ in shapes)
    cols = max(c for _, c in shapes)
    gathered = {
        "scores": _all_gather(_pad(scores.detach(), rows, cols)),
        "labels": _all_gather(_pad(labels, rows, cols)),
        "mask": _all_gather(_pad(mask.to(torch.uint8), rows, cols)),
    }
    gathered["scores"][me] = _pad(scores, rows, cols)  # this rank's rows keep their gradient
    counts = [r for r, _ in shapes]
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # Global row i is local row i // W of rank i % W.
    order = torch.tensor(
        [offsets[i % size] + i // size for i in range(sum(counts))], dtype=torch.long, device=scores.device
    )
    out = [torch.cat([part[: counts[r], :cols] for r, part in enumerate(parts)])[order] for parts in gathered.values()]
    return out[0], out[1], out[2].bool()


def scale_gradient(loss: torch.Tensor) -> torch.Tensor:
    """``loss`` with its value unchanged and its gradient multiplied by the world size
    (DDP averages the ranks' gradients; each rank's is its share of the global loss's)."""
    size = world_size()
    return loss if size == 1 else loss + (size - 1) * (loss - loss.detach())


def gather_arrays(local: np.ndarray) -> np.ndarray:
    """Every rank's ``local`` array, concatenated in rank order, on every rank."""
    if world_size() == 1:
        return local
    parts: list[Any] = [None] * world_size()
    dist.all_gather_object(parts, local)
    return np.concatenate(parts)


def broadcast(value: T, src: int = 0) -> T:
    """Rank ``src``'s ``value`` (any picklable object), on every rank."""
    if world_size() == 1:
        return value
    box = [value if rank() == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]
