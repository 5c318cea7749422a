"""Where a FAISS index searches: ``retriever.dense.index_device`` ``auto`` (a GPU when
the installed FAISS has GPU support and sees one, else the CPU), ``cpu``, or
``cuda`` / ``cuda:N``.

The index is always built on the CPU, where IVF-PQ training is seeded, so the saved
file is the same on every machine and reloads on any; a GPU search runs on a copy
(``faiss.index_cpu_to_gpu``). FAISS has no GPU HNSW, its GPU IVF-PQ takes only some
code sizes (not the default ``pq_m`` = dimension at 8 bits, for one), and it selects at
most 2,048 neighbours and probes 2,048 lists. Under ``auto`` such an index searches on
the CPU and the reason is logged and reported; under ``cuda`` it is an error."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: FAISS's GPU k-selection limit (neighbours per query, and IVF lists probed).
GPU_MAX_K = 2048


def visible_gpus(faiss: Any) -> int:
    """GPUs this FAISS can use: 0 for a CPU-only build (faiss-cpu)."""
    if not hasattr(faiss, "StandardGpuResources"):
        return 0
    return int(faiss.get_num_gpus())


def no_gpu_reason(faiss: Any) -> str:
    if not hasattr(faiss, "StandardGpuResources"):
        return f"this FAISS ({faiss.__version__}) has no GPU support (a GPU build: pip install faiss-gpu-cu12)"
    return f"this FAISS ({faiss.__version__}) has GPU support but sees no GPU"


def gpu_number(device: str) -> int | None:
    """None for ``auto`` and ``cpu``; N for ``cuda:N`` (0 for ``cuda``); raises otherwise."""
    if device in ("auto", "cpu"):
        return None
    head, _, number = device.partition(":")
    if head != "cuda" or (number and not number.isdigit()):
        raise ValueError(f"retriever.dense.index_device must be auto, cpu, cuda or cuda:N, got {device!r}")
    return int(number or 0)


def check_device(device: str, kind: str, faiss: Any) -> None:
    """Refuse a device the index cannot search on, before anything is encoded."""
    gpu = gpu_number(device)
    if gpu is None:
        return
    if kind == "exact":
        raise ValueError(
            f"retriever.dense.index_device {device}: the exact index multiplies with torch on the CPU "
            "(index_device places the FAISS indexes, hnsw and ivf-pq); use index_device auto or cpu"
        )
    if kind == "hnsw":
        raise ValueError(
            f"retriever.dense.index_device {device}: FAISS has no GPU HNSW; use index ivf-pq on the GPU, "
            "or index_device auto or cpu for hnsw"
        )
    count = visible_gpus(faiss)
    if count == 0:
        raise ValueError(f"retriever.dense.index_device {device}: {no_gpu_reason(faiss)}; use index_device auto or cpu")
    if gpu >= count:
        raise ValueError(f"retriever.dense.index_device {device}: FAISS sees {count} GPU(s), numbered 0..{count - 1}")


@dataclass
class Placement:
    """The index to search with, where it is (``cpu`` or ``cuda:N``) and, when ``auto``
    stayed on the CPU, why; ``resources`` keeps the GPU memory of the copy alive."""

    searcher: Any
    where: str
    why_cpu: str | None = None
    resources: Any = None


def place(index: Any, kind: str, device: str, search: dict[str, int], faiss: Any) -> Placement:
    """``index`` (a CPU index, search parameters set) where ``device`` asks; see the module."""
    gpu = gpu_number(device)
    if device == "cpu":
        return Placement(index, "cpu")
    if gpu is not None:
        check_device(device, kind, faiss)
    else:  # auto
        gpu, why = 0, None
        if kind != "ivf-pq":
            why = f"FAISS has no GPU {kind}"
        elif visible_gpus(faiss) == 0:
            why = no_gpu_reason(faiss)
        if why is not None:
            return Placement(index, "cpu", why)
    if search.get("nprobe", 0) > GPU_MAX_K:
        return _refused(device, f"FAISS on a GPU probes at most {GPU_MAX_K} lists, nprobe is {search['nprobe']}", index)
    try:
        resources = faiss.StandardGpuResources()
        copy = faiss.index_cpu_to_gpu(resources, gpu, index)
    except Exception as err:  # FAISS raises RuntimeError with its reason (e.g. an unsupported code size)
        return _refused(device, f"FAISS could not copy the {kind} index to GPU {gpu}: {err}", index)
    log.info("the %s index searches on GPU %d", kind, gpu)
    return Placement(copy, f"cuda:{gpu}", None, resources)


def _refused(device: str, why: str, index: Any) -> Placement:
    if device != "auto":
        raise ValueError(f"retriever.dense.index_device {device}: {why}; use index_device auto or cpu")
    log.warning("the index searches on the CPU: %s", why)
    return Placement(index, "cpu", why)
