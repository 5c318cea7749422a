"""Sharded BM25 equals the one index exactly: score vectors, candidate scores and top-k
runs (ties included), for every bm25s method, with and without stopwords and stemmer."""

import pickle

import numpy as np
import pandas as pd
import pytest

from rankwright.data.readers import read_relevance
from rankwright.retrieval import RetrieverConfig, build_retriever
from rankwright.retrieval.bm25 import BM25, BM25Config
from rankwright.retrieval.bm25_shards import (
    BM25Shard,
    ShardedBM25,
    corpus_stats,
    merge_counts,
    merge_top_k,
    shard_counts,
    split_documents,
)

METHODS = ["lucene", "robertson", "atire", "bm25l", "bm25+"]

# 13 documents: d03/d09 and d05/d11 are duplicates (ties), d07 has only stopwords (bm25s's
# empty term), "zeppelin" is only in d12, lengths differ; 7 shards give one of a single document.
DOCS = {
    "d00": "the cat sat on the mat",
    "d01": "dogs are loyal animals and dogs run",
    "d02": "a cat and a dog running in the garden",
    "d03": "mats for yoga",
    "d04": "cats chase mice, mice run from cats all day long in the old house",
    "d05": "the runner runs a long run",
    "d06": "garden hose and garden lamp",
    "d07": "the and of it",
    "d08": "cat cat cat mat",
    "d09": "mats for yoga",
    "d10": "loyal dog",
    "d11": "the runner runs a long run",
    "d12": "a zeppelin over the garden",
}
QUERIES = {
    "q1": "cat mat",
    "q2": "dogs running",
    "q3": "zeppelin garden",
    "q4": "yoga mats",
    "q5": "runs",
    "q6": "unknownword",
    "q7": "the of",
    "q8": "cat cat loyal",
    "q9": "long run house mice",
}
SETTINGS = [
    {"method": m, "stopwords": s, "stemmer": t} for m in METHODS for s in ("en", None) for t in (None, "english")
]


def _ids(setting):
    return "-".join(str(v) for v in setting.values())


def _configs(setting, shards):
    return BM25Config(**setting), BM25Config(**setting, shards=shards)


def _vectors(index, queries=QUERIES):
    return dict(index.iter_scores(queries, progress=False))


@pytest.mark.parametrize("setting", SETTINGS, ids=_ids)
def test_score_vectors_equal_the_one_index_exactly(setting):
    one_config, _ = _configs(setting, 1)
    expected = _vectors(BM25(DOCS, one_config, progress=False))
    for shards in (1, 2, 3, 7):
        sharded = ShardedBM25(DOCS, _configs(setting, shards)[1], progress=False)
        assert [len(s.doc_ids) for s in sharded.shards] == [len(p) for p in split_documents(DOCS, shards)]
        got = _vectors(sharded)
        for qid, scores in expected.items():
            assert got[qid].dtype == scores.dtype == np.float32
            assert np.array_equal(got[qid], scores), (shards, qid, got[qid], scores)


def test_shards_have_unequal_sizes_and_one_single_document():
    sizes = [len(part) for part in split_documents(DOCS, 7)]
    assert sum(sizes) == len(DOCS) and 1 in sizes and len(set(sizes)) == 2
    assert [len(part) for part in split_documents(DOCS, 50)] == [1] * len(DOCS)


@pytest.mark.parametrize("setting", SETTINGS, ids=_ids)
def test_top_k_runs_and_candidate_scores_equal_the_one_index(setting):
    one_config, config = _configs(setting, 3)
    one, sharded = BM25(DOCS, one_config, progress=False), ShardedBM25(DOCS, config, progress=False)
    for k in (1, 2, 4, 5, 13, 20):
        pd.testing.assert_frame_equal(
            sharded.retrieve(QUERIES, k, progress=False), one.retrieve(QUERIES, k, progress=False)
        )
    pairs = pd.DataFrame(
        {
            "query_id": ["q1", "q1", "q3", "q3"],
            "query": ["cat mat"] * 2 + ["zeppelin"] * 2,
            "doc_id": ["d08", "d00", "d12", "d07"],
        }
    )
    pd.testing.assert_frame_equal(
        sharded.score_candidates(pairs, progress=False), one.score_candidates(pairs, progress=False)
    )


def test_ties_are_ordered_by_doc_id_descending_across_shards():
    one, sharded = BM25(DOCS, progress=False), ShardedBM25(DOCS, BM25Config(shards=7), progress=False)
    run = sharded.retrieve({"q": "yoga"}, 2, progress=False)
    assert run["doc_id"].tolist() == ["d09", "d03"] and run["score"].iloc[0] == run["score"].iloc[1]
    assert [i for i, shard in enumerate(sharded.shards) if {"d03", "d09"} & set(shard.doc_ids)] == [1, 5]
    pd.testing.assert_frame_equal(run, one.retrieve({"q": "yoga"}, 2, progress=False))


@pytest.mark.parametrize("method", METHODS)
def test_merged_per_shard_top_k_equals_the_one_index_top_k(method):
    one_config, config = _configs({"method": method, "stemmer": "english"}, 7)
    one, sharded = BM25(DOCS, one_config, progress=False), ShardedBM25(DOCS, config, progress=False)
    for k in range(1, len(DOCS) + 2):
        per_shard = [shard.retrieve(QUERIES, k, progress=False) for shard in sharded.shards]
        pd.testing.assert_frame_equal(merge_top_k(per_shard, k), one.retrieve(QUERIES, k, progress=False))


def test_merge_top_k_of_nothing_is_empty():
    assert merge_top_k([], 10).empty


@pytest.mark.parametrize("stemmer", [None, "english"])
def test_statistics_counted_per_shard_and_merged_equal_those_of_the_whole_corpus(stemmer):
    config = BM25Config(stemmer=stemmer)
    texts = list(DOCS.values())
    at_once = shard_counts(texts, config)
    merged = merge_counts(shard_counts(texts[a:b], config) for a, b in [(0, 1), (1, 6), (6, 7), (7, 13)])
    assert merged == at_once and list(merged.doc_freq) == list(at_once.doc_freq)
    stats = corpus_stats(merged)
    one = BM25(DOCS, config, progress=False)
    assert stats.vocab == one.tokenizer.get_vocab_dict()
    assert stats.n_documents == len(DOCS) and stats.doc_freq[stats.vocab["zeppelin"]] == 1
    lengths = one.tokenizer.tokenize(texts, update_vocab=False, return_as="ids", show_progress=False)
    expected = np.array([len(ids) for ids in lengths]).mean()  # what bm25s computes
    assert stats.avg_doc_len == expected and type(stats.avg_doc_len) is type(expected)
    assert stats.doc_freq[stats.vocab[""]] == 1  # d07 has only stopwords


@pytest.mark.parametrize("method", METHODS)
def test_hand_built_shards_of_unequal_size_concatenate_to_the_one_index(method):
    """The cluster's way: counts per shard, merged, then each shard built on its own."""
    config = BM25Config(method=method, stopwords=None)
    items = list(DOCS.items())
    parts = [dict(items[a:b]) for a, b in [(0, 1), (1, 9), (9, 13)]]
    stats = corpus_stats(merge_counts(shard_counts(p.values(), config) for p in parts))
    shards = [pickle.loads(pickle.dumps(BM25Shard(p, stats, config))) for p in parts]
    one = BM25(DOCS, config, progress=False)
    for query in QUERIES.values():
        got = np.concatenate([shard.query_scores(query) for shard in shards])
        assert np.array_equal(got, one.query_scores(query))


def test_a_shard_with_terms_the_statistics_did_not_count_is_refused():
    stats = corpus_stats(shard_counts(["cat mat"], BM25Config()))
    with pytest.raises(ValueError, match="did not count"):
        BM25Shard({"x": "zeppelin"}, stats)


def test_queries_with_only_unknown_terms_score_zero():
    docs = {d: t for d, t in DOCS.items() if d != "d07"}  # with d07, the empty term scores it
    for method in METHODS:
        index = ShardedBM25(docs, BM25Config(method=method, shards=3), progress=False)
        for query in ("unknownword", "the of", ""):
            scores = index.query_scores(query)
            assert scores.shape == (len(docs),) and not scores.any()


@pytest.mark.parametrize("shards", [0, -2])
def test_non_positive_shards_is_a_clear_error(shards):
    with pytest.raises(ValueError, match=r"bm25\.shards must be a positive integer.*got " + str(shards)):
        build_retriever(RetrieverConfig(bm25=BM25Config(shards=shards)), DOCS, progress=False)


def test_build_retriever_shards_only_when_asked():
    assert type(build_retriever(RetrieverConfig(), DOCS, progress=False)) is BM25
    sharded = build_retriever(RetrieverConfig(bm25=BM25Config(shards=4)), DOCS, progress=False)
    assert isinstance(sharded, ShardedBM25) and len(sharded.shards) == 4
    assert sharded.describe()["shards"] == 4 and sharded.describe()["n_documents"] == len(DOCS)


@pytest.mark.parametrize("stemmer", [None, "english"])
def test_pickle_round_trip_keeps_scores(stemmer):
    config = BM25Config(stemmer=stemmer, shards=3)
    for index in (BM25(DOCS, config, progress=False), ShardedBM25(DOCS, config, progress=False)):
        expected = _vectors(index)
        copy = pickle.loads(pickle.dumps(index))
        got = _vectors(copy, {**QUERIES, "new": "chasing gardens"})  # words the corpus does not have
        assert all(np.array_equal(got[q], expected[q]) for q in QUERIES)
        assert np.array_equal(got["new"], index.query_scores("chasing gardens"))
        assert (got["new"][index.row["d06"]] > 0) == (stemmer is not None)  # "gardens" stems to "garden"
    assert all(shard.tokenizer is copy.tokenizer for shard in copy.shards)  # one vocabulary after pickling


def test_cranfield_225_queries_equal_with_4_shards(shared_data):
    folder = shared_data / "cranfield"
    if not folder.is_dir():
        pytest.skip(f"the Cranfield collection is absent from {folder}")
    data = read_relevance(folder)
    assert len(data.queries) == 225
    one = _vectors(BM25(data.corpus, progress=False), data.queries)
    sharded = ShardedBM25(data.corpus, BM25Config(shards=4), progress=False)
    assert len(sharded.shards) == 4 and sum(len(s.doc_ids) for s in sharded.shards) == len(data.corpus) == 1398
    got = _vectors(sharded, data.queries)
    assert list(got) == list(one) and all(np.array_equal(got[q], one[q]) for q in one)
    assert sum(v.any() for v in got.values()) == 225
