import math

import pandas as pd
import pytest

from rankwright.retrieval.bm25 import BM25, BM25Config

DOCS = {
    "a": "the cat sat on the mat",
    "b": "dogs are loyal animals",
    "c": "a cat and a dog",
    "d": "mats for yoga",
}


def _lucene_bm25(query_terms, doc_terms, all_docs, k1=1.5, b=0.75):
    """BM25 (Lucene variant) by hand: idf = ln(1 + (N - df + 0.5) / (df + 0.5))."""
    n = len(all_docs)
    avgdl = sum(len(d) for d in all_docs) / n
    score = 0.0
    for term in query_terms:
        df = sum(term in d for d in all_docs)
        if df == 0:
            continue
        tf = doc_terms.count(term)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        score += idf * tf / (tf + k1 * (1 - b + b * len(doc_terms) / avgdl))
    return score


def test_scores_match_lucene_formula_with_stopwords_removed():
    index = BM25(DOCS, progress=False)
    # English stopwords removed ("the", "on", "a", "and", "are", "for"); bm25s keeps words of 2+ chars.
    tokens = {"a": ["cat", "sat", "mat"], "b": ["dogs", "loyal", "animals"], "c": ["cat", "dog"], "d": ["mats", "yoga"]}
    scores = index.query_scores("cat mat")
    for i, doc_id in enumerate(DOCS):
        expected = _lucene_bm25(["cat", "mat"], tokens[doc_id], list(tokens.values()))
        assert scores[i] == pytest.approx(expected, rel=1e-5)


def test_unknown_words_score_zero():
    assert BM25(DOCS, progress=False).query_scores("zebra").sum() == 0


def test_candidates_use_idf_of_all_documents():
    index = BM25(DOCS, progress=False)
    pairs = pd.DataFrame({"query_id": ["q1", "q1"], "query": ["cat"] * 2, "doc_id": ["a", "c"]})
    scored = index.score_candidates(pairs, progress=False)
    full = index.query_scores("cat")
    assert scored["score"].tolist() == pytest.approx([full[0], full[2]])


def test_retrieve_top_k_and_tie_order():
    docs = {"d1": "alpha beta", "d2": "alpha beta", "d3": "gamma"}
    run = BM25(docs, BM25Config(top_k=2), progress=False).retrieve({"q": "alpha"}, progress=False)
    # d1 and d2 tie; trec_eval order puts the larger doc id first.
    assert run["doc_id"].tolist() == ["d2", "d1"]


def test_stemmer_option():
    index = BM25({"x": "running fast", "y": "slow walk"}, BM25Config(stemmer="english"), progress=False)
    assert index.query_scores("runs")[0] > 0
    assert BM25({"x": "running fast", "y": "slow walk"}, progress=False).query_scores("runs")[0] == 0
