"""bfloat16 support: the CPU probe (a small bfloat16 matmul), CUDA's own answer, and
``model.dtype bfloat16`` falling back to float32 with a warning where the machine cannot
compute in it. The probe is monkeypatched, so every test runs on any machine."""

from __future__ import annotations

import logging

import pytest
import torch

from rankwright.models import precision
from rankwright.models.loading import load_causal_lm, weights_dtype


@pytest.fixture
def cpu_only(monkeypatch):
    """No GPU, and a CPU probe that answers what the test sets in ``cpu_only(works)``."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def set_probe(works: bool) -> None:
        monkeypatch.setattr(precision, "_cpu_bf16_works", lambda: works)

    return set_probe


def test_the_cpu_probe_is_a_bfloat16_matmul_and_a_failing_one_means_no(monkeypatch):
    probe = precision._cpu_bf16_works.__wrapped__  # uncached
    assert probe() is True  # torch multiplies bfloat16 on this CPU (natively or emulated)

    def no_bf16(*args, **kwargs):
        raise RuntimeError("\"addmm_impl_cpu_\" not implemented for 'BFloat16'")

    monkeypatch.setattr(torch, "matmul", no_bf16)
    assert probe() is False


def test_why_no_bf16_names_the_device(cpu_only, monkeypatch):
    cpu_only(True)
    assert precision.compute_device() == "cpu"
    assert precision.why_no_bf16() is None
    cpu_only(False)
    assert precision.why_no_bf16() == (
        f"this CPU cannot compute in bfloat16 (a bfloat16 matmul fails in torch {torch.__version__})"
    )
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda: "Tesla V100-SXM2-16GB")
    assert precision.why_no_bf16("cuda") == "this GPU (Tesla V100-SXM2-16GB) does not support bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert precision.why_no_bf16("cuda") is None


def test_model_dtype_bfloat16_falls_back_to_float32_with_a_warning(cpu_only, tiny_llama, caplog):
    cpu_only(False)
    with caplog.at_level(logging.WARNING, logger="rankwright.models.loading"):
        model, _ = load_causal_lm(tiny_llama, dtype="bfloat16")
    assert model.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert (
        "model.dtype bfloat16: this CPU cannot compute in bfloat16 (a bfloat16 matmul fails in torch "
        f"{torch.__version__}); loading the weights in float32 instead (twice the memory). Set model.dtype float32"
    ) in caplog.text


def test_model_dtype_bfloat16_is_kept_where_supported_and_other_dtypes_are_untouched(cpu_only, caplog):
    cpu_only(True)
    with caplog.at_level(logging.WARNING, logger="rankwright.models.loading"):
        assert weights_dtype("bfloat16") == torch.bfloat16
    assert caplog.text == ""
    cpu_only(False)
    assert weights_dtype("auto") == torch.float32  # auto never picks bfloat16 on a CPU
    assert weights_dtype("float32") == torch.float32
    assert weights_dtype("float16") == torch.float16
    with pytest.raises(ValueError, match=r"model\.dtype must be one of .*got 'bf16'"):
        weights_dtype("bf16")
