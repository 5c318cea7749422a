"""Whether this machine computes in bfloat16, for ``training.bf16`` (an error before
training where it cannot) and ``model.dtype bfloat16`` (float32 weights, with a warning).

The device is the one training and scoring use: the GPU where CUDA is available (as
``torch.cuda.is_bf16_supported`` says, the test transformers and accelerate apply), else
the CPU, where transformers and accelerate accept bf16 without a test: there a small
bfloat16 matmul is tried once. A CPU without native bf16 instructions (AVX512-BF16, AMX)
still passes when torch emulates them: that is slower, not wrong, and it halves the memory
of the weights, so it is no reason to refuse.
"""

from __future__ import annotations

import functools

import torch


def compute_device() -> str:
    """``cuda`` where a GPU is available (the Trainer and the reranker use it), else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.cache
def _cpu_bf16_works() -> bool:
    """Whether torch multiplies bfloat16 tensors on this CPU (tried once)."""
    try:
        x = torch.ones(4, 4, dtype=torch.bfloat16)
        return bool(torch.matmul(x, x).float().eq(4).all())
    except (RuntimeError, TypeError, NotImplementedError):
        return False


def why_no_bf16(device: str | None = None) -> str | None:
    """``None`` when ``device`` (default: :func:`compute_device`) computes in bfloat16,
    else why not, as a phrase for a message."""
    device = device or compute_device()
    if device == "cuda":
        if torch.cuda.is_bf16_supported():
            return None
        return f"this GPU ({torch.cuda.get_device_name()}) does not support bfloat16"
    if _cpu_bf16_works():
        return None
    return f"this CPU cannot compute in bfloat16 (a bfloat16 matmul fails in torch {torch.__version__})"
