"""Where a FAISS index searches (retriever.dense.index_device): the real faiss-cpu for the
CPU-only answers and errors; a GPU-capable FAISS stood in by the real module plus a GPU
copy that is a CPU clone (no GPU here), to check the placement, the fallbacks of ``auto``,
the refusals of ``cuda`` and what searches and pickles. The GPU copy itself is checked
on a GPU by bench/gpu_faiss.py."""

from __future__ import annotations

import logging
import pickle
import types

import numpy as np
import pytest

pytest.importorskip("faiss", reason="faiss-cpu is not installed")

from rankwright.retrieval import ann, ann_device
from rankwright.retrieval.config import DenseConfig

D, N = 16, 3000  # more vectors than a GPU selects (GPU_MAX_K)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(N, D))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _cpu_index(vectors, config):
    build, search = ann.index_params(config, len(vectors), D)
    return ann.build_faiss(vectors, config.index, build), search


IVF_PQ = DenseConfig(index="ivf-pq", pq_m=8, pq_bits=4)


class _Counted:
    """Wraps an index; counts its searches."""

    def __init__(self, index):
        self.index, self.searches = index, 0

    def search(self, x, k):
        self.searches += 1
        return self.index.search(x, k)


def _gpu_faiss(monkeypatch, copy=None) -> types.SimpleNamespace:
    """The real faiss with one visible GPU whose copy of an index is ``copy(index)``
    (default: a counted CPU clone); patched into ann.import_faiss."""
    real = ann.import_faiss()
    copies = []

    def index_cpu_to_gpu(resources, gpu, index):
        made = (copy or (lambda i: _Counted(real.clone_index(i))))(index)
        copies.append((gpu, made))
        return made

    fake = types.SimpleNamespace(**{name: getattr(real, name) for name in dir(real) if not name.startswith("__")})
    fake.__version__ = real.__version__
    fake.StandardGpuResources = object
    fake.get_num_gpus = lambda: 1
    fake.index_cpu_to_gpu, fake.copies = index_cpu_to_gpu, copies
    monkeypatch.setattr(ann, "import_faiss", lambda: fake)
    return fake


def test_faiss_cpu_sees_no_gpu_and_auto_searches_on_the_cpu_saying_why(vectors):
    faiss = ann.import_faiss()
    assert ann_device.visible_gpus(faiss) == 0
    index, search = _cpu_index(vectors, IVF_PQ)
    placed = ann.AnnIndex(index, "ivf-pq", search, "auto").placement
    assert placed.searcher is index and placed.where == "cpu" and placed.resources is None
    assert "has no GPU support" in placed.why_cpu and "faiss-gpu" in placed.why_cpu
    hnsw, search = _cpu_index(vectors, DenseConfig(index="hnsw"))
    assert ann.AnnIndex(hnsw, "hnsw", search, "auto").placement.why_cpu == "FAISS has no GPU hnsw"
    assert ann.AnnIndex(hnsw, "hnsw", search, "cpu").placement.why_cpu is None


@pytest.mark.parametrize(
    ("device", "kind", "message"),
    [
        ("cuda", "ivf-pq", r"index_device cuda: this FAISS \(.*\) has no GPU support .*pip install faiss-gpu-cu12"),
        ("cuda:0", "hnsw", r"FAISS has no GPU HNSW"),
        ("cuda", "exact", r"index_device cuda: the exact index multiplies with torch on the CPU"),
        ("gpu", "ivf-pq", r"must be auto, cpu, cuda or cuda:N, got 'gpu'"),
        ("cuda:x", "ivf-pq", r"must be auto, cpu, cuda or cuda:N, got 'cuda:x'"),
    ],
)
def test_devices_that_cannot_be_used_are_refused(device, kind, message):
    with pytest.raises(ValueError, match=message):
        ann_device.check_device(device, kind, ann.import_faiss())


def test_auto_and_cpu_pass_the_check_on_any_machine():
    for device in ("auto", "cpu"):
        for kind in ("exact", "hnsw", "ivf-pq"):
            ann_device.check_device(device, kind, None)


def test_a_gpu_numbered_past_the_visible_ones_is_refused(monkeypatch):
    fake = _gpu_faiss(monkeypatch)
    ann_device.check_device("cuda:0", "ivf-pq", fake)
    with pytest.raises(ValueError, match=r"index_device cuda:1: FAISS sees 1 GPU\(s\), numbered 0\.\.0"):
        ann_device.check_device("cuda:1", "ivf-pq", fake)


@pytest.mark.parametrize("device", ["auto", "cuda", "cuda:0"])
def test_with_a_gpu_ivf_pq_searches_on_its_copy_and_pickles_the_cpu_index(vectors, monkeypatch, device):
    fake = _gpu_faiss(monkeypatch)
    index, search = _cpu_index(vectors, IVF_PQ)
    placed = ann.AnnIndex(index, "ivf-pq", search, device)
    cpu_results = index.search(vectors[:10], 50)  # the CPU index, with the search parameters set
    assert placed.placement.where == "cuda:0" and placed.placement.why_cpu is None
    gpu, copy = fake.copies[0]
    assert gpu == 0 and placed.placement.searcher is copy
    assert copy.index.nprobe == search["nprobe"], "the copy is made after the search parameters are set"
    for a, b in zip(placed.search(vectors[:10], 50), cpu_results, strict=True):
        np.testing.assert_array_equal(a, b)
    assert copy.searches == 1
    # More neighbours than a GPU selects: the CPU index answers.
    rows = placed.search(vectors[:2], ann_device.GPU_MAX_K + 1)[1]
    assert copy.searches == 1 and rows.shape == (2, ann_device.GPU_MAX_K + 1)
    # Pickling carries the CPU index, and unpickling places it again.
    state = placed.__getstate__()
    assert "placement" not in state and isinstance(state["index"], np.ndarray)
    again = pickle.loads(pickle.dumps(placed))
    assert again.placement.where == "cuda:0" and len(fake.copies) == 2
    np.testing.assert_array_equal(again.search(vectors[:10], 50)[1], cpu_results[1])


def test_hnsw_stays_on_the_cpu_even_with_a_gpu(vectors, monkeypatch):
    fake = _gpu_faiss(monkeypatch)
    index, search = _cpu_index(vectors, DenseConfig(index="hnsw", hnsw_m=8, hnsw_ef_construction=40))
    placed = ann.AnnIndex(index, "hnsw", search, "auto").placement
    assert placed.where == "cpu" and placed.why_cpu == "FAISS has no GPU hnsw" and fake.copies == []


def test_a_copy_faiss_refuses_falls_back_under_auto_and_fails_under_cuda(vectors, monkeypatch, caplog):
    def refuse(index):
        raise RuntimeError("Error in GpuIndexIVFPQ: Number of bytes per encoded vector / sub-quantizer 384 unsupported")

    _gpu_faiss(monkeypatch, copy=refuse)
    index, search = _cpu_index(vectors, IVF_PQ)
    with caplog.at_level(logging.WARNING, logger="rankwright.retrieval.ann_device"):
        placed = ann.AnnIndex(index, "ivf-pq", search, "auto").placement
    assert placed.where == "cpu" and placed.searcher is index
    assert placed.why_cpu.startswith("FAISS could not copy the ivf-pq index to GPU 0: Error in GpuIndexIVFPQ")
    assert "the index searches on the CPU: FAISS could not copy" in caplog.text
    with pytest.raises(ValueError, match=r"index_device cuda: FAISS could not copy .* 384 unsupported; use"):
        ann.AnnIndex(index, "ivf-pq", search, "cuda")


def test_more_probes_than_a_gpu_takes_fall_back_or_fail(vectors, monkeypatch):
    fake = _gpu_faiss(monkeypatch)
    index, _ = _cpu_index(vectors, IVF_PQ)
    search = {"nprobe": ann_device.GPU_MAX_K + 1}
    placed = ann.AnnIndex(index, "ivf-pq", search, "auto").placement
    assert placed.where == "cpu" and "probes at most 2048 lists, nprobe is 2049" in placed.why_cpu
    assert fake.copies == []
    with pytest.raises(ValueError, match=r"probes at most 2048 lists"):
        ann.AnnIndex(index, "ivf-pq", search, "cuda:0")
