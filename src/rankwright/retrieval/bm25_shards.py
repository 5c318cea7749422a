"""BM25 in shards with the statistics of the whole corpus: every shard scores with the
corpus-wide document frequencies, document count and average document length, through
bm25s's own scoring functions, so its scores equal the one-index
:class:`~rankwright.retrieval.bm25.BM25` scores exactly (the same float32 operations).

A cluster counts terms shard by shard (:func:`shard_counts`), sums the counts
(:func:`merge_counts`) into :class:`CorpusStats` (:func:`corpus_stats`), builds each
shard where its documents are (:class:`BM25Shard`), retrieves per shard and merges the
top-k lists (:func:`merge_top_k`); :class:`ShardedBM25` does all of it in one process."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np
import pandas as pd
from bm25s.scoring import (
    _build_idf_array,
    _build_nonoccurrence_array,
    _build_scores_and_indices_for_matrix,
    _select_idf_scorer,
    _select_tfc_scorer,
)
from tqdm.auto import tqdm

from rankwright.cluster.blocks import partition
from rankwright.data.records import DOC_ID, QUERY_ID, SCORE
from rankwright.retrieval.bm25 import BM25Base, index_scores, make_tokenizer, query_token_ids
from rankwright.retrieval.config import BM25Config

EMPTY = ""  # bm25s's term of a document without words (id 0 in every vocabulary here)


@dataclass
class TermCounts:
    """Counts of some documents, summable: ``doc_freq`` maps each term (a word, or a stem
    with a stemmer) to the number of documents containing it, in first-appearance order."""

    n_documents: int
    n_tokens: int
    doc_freq: dict[str, int] = field(default_factory=dict)


@dataclass
class CorpusStats:
    """What every bm25s method needs from the whole corpus, computed once and shared:
    the vocabulary (term -> id, the same in every shard and for queries), the document
    frequency of each term id, the number of documents and the average document length
    (a float64, as bm25s computes it)."""

    vocab: dict[str, int]
    doc_freq: np.ndarray
    n_documents: int
    avg_doc_len: np.float64


def _doc_freq(token_ids: list[list[int]], n_terms: int) -> np.ndarray:
    """How many of the documents (lists of term ids) contain each term id."""
    present = np.fromiter(itertools.chain.from_iterable(set(doc) for doc in token_ids), dtype=np.int64)
    return np.bincount(present, minlength=n_terms)


def shard_counts(texts: Iterable[str], config: BM25Config) -> TermCounts:
    """Term counts of ``texts`` tokenized as ``config`` says (stopwords, stemmer)."""
    tokenizer = make_tokenizer(config)
    ids = tokenizer.tokenize(list(texts), update_vocab=True, return_as="ids", show_progress=False)
    vocab = tokenizer.get_vocab_dict()
    terms = sorted(vocab, key=vocab.__getitem__)
    df = _doc_freq(ids, len(terms))
    return TermCounts(len(ids), sum(map(len, ids)), {t: int(df[vocab[t]]) for t in terms})


def merge_counts(counts: Iterable[TermCounts]) -> TermCounts:
    """The sum of shards' counts; terms in order of first appearance, shard by shard."""
    total = TermCounts(0, 0, {EMPTY: 0})
    for part in counts:
        total.n_documents += part.n_documents
        total.n_tokens += part.n_tokens
        for term, df in part.doc_freq.items():
            total.doc_freq[term] = total.doc_freq.get(term, 0) + df
    return total


def corpus_stats(counts: TermCounts) -> CorpusStats:
    """Statistics of the corpus that ``counts`` (merged over all its shards) describe."""
    if counts.n_documents < 1:
        raise ValueError("BM25: the corpus is empty; there is nothing to index")
    terms = [EMPTY, *(t for t in counts.doc_freq if t != EMPTY)]
    doc_freq = np.array([counts.doc_freq.get(t, 0) for t in terms], dtype=np.int64)
    avg = np.float64(counts.n_tokens) / counts.n_documents  # = bm25s's mean of integer lengths
    return CorpusStats({t: i for i, t in enumerate(terms)}, doc_freq, counts.n_documents, avg)


def vocab_tokenizer(config: BM25Config, vocab: dict[str, int]) -> bm25s.tokenization.Tokenizer:
    """A tokenizer whose vocabulary is ``vocab`` (used as is, not copied)."""
    tokenizer = make_tokenizer(config)
    if tokenizer.stemmer is None:
        tokenizer.word_to_id = vocab
    else:
        tokenizer.stem_to_sid = vocab
        tokenizer.word_to_stem = {EMPTY: EMPTY}
        tokenizer.word_to_id = {EMPTY: vocab[EMPTY]}
    return tokenizer


def shard_token_ids(texts: list[str], stats: CorpusStats, config: BM25Config) -> list[list[int]]:
    """``texts`` as term ids of ``stats``' vocabulary; raises when a term was not counted."""
    tokenizer = vocab_tokenizer(config, dict(stats.vocab))
    ids = tokenizer.tokenize(texts, update_vocab=True, return_as="ids", show_progress=False)
    if len(tokenizer.get_vocab_dict()) != len(stats.vocab):
        raise ValueError("BM25 shard: its documents have terms the corpus statistics did not count")
    return ids


def shard_index(token_ids: list[list[int]], stats: CorpusStats, config: BM25Config) -> bm25s.BM25:
    """A bm25s index of one shard's documents whose scores use the corpus-wide ``stats``:
    what ``bm25s.BM25.build_index_from_ids`` does, with the corpus's IDF, document count
    and average length instead of the shard's."""
    model = bm25s.BM25(k1=config.k1, b=config.b, method=config.method)
    n_docs, avg = int(stats.n_documents), stats.avg_doc_len
    doc_freq = {i: int(df) for i, df in enumerate(stats.doc_freq)}
    idf_fn = _select_idf_scorer(model.idf_method)
    model.nonoccurrence_array = None
    if model.method in model.methods_requiring_nonoccurrence:
        model.nonoccurrence_array = _build_nonoccurrence_array(
            doc_frequencies=doc_freq,
            n_docs=n_docs,
            compute_idf_fn=idf_fn,
            calculate_tfc_fn=_select_tfc_scorer(model.method),
            l_d=avg,
            l_avg=avg,
            k1=model.k1,
            b=model.b,
            delta=model.delta,
            dtype=model.dtype,
        )
    idf = _build_idf_array(doc_frequencies=doc_freq, n_docs=n_docs, compute_idf_fn=idf_fn, dtype=model.dtype)
    # the shard's own document frequencies only size the arrays of (document, term) scores
    local = dict(enumerate(_doc_freq(token_ids, len(doc_freq)).tolist()))
    flat, rows, cols = _build_scores_and_indices_for_matrix(
        corpus_token_ids=token_ids,
        idf_array=idf,
        avg_doc_len=avg,
        doc_frequencies=local,
        k1=model.k1,
        b=model.b,
        delta=model.delta,
        nonoccurrence_array=model.nonoccurrence_array,
        method=model.method,
        dtype=model.dtype,
        int_dtype=model.int_dtype,
        show_progress=False,
    )
    data, indices, indptr = model._np_csc(data=flat, rows=rows, cols=cols, shape=(len(token_ids), len(doc_freq)))
    model.scores = {"data": data.astype(model.dtype), "indices": indices, "indptr": indptr, "num_docs": len(token_ids)}
    model.vocab_dict = stats.vocab
    return model


class BM25Shard(BM25Base):
    """One shard: a BM25 index of ``documents`` (doc_id -> text, a part of the corpus) that
    scores with the corpus-wide ``stats``; its scores are those of its documents in a
    one-index :class:`~rankwright.retrieval.bm25.BM25` of the whole corpus."""

    name = "BM25 shard"

    def __init__(
        self,
        documents: dict[str, str],
        stats: CorpusStats,
        config: BM25Config | None = None,
        *,
        tokenizer: bm25s.tokenization.Tokenizer | None = None,
    ):
        super().__init__(documents)
        self.config = config or BM25Config()
        self.stats = stats
        self.model = shard_index(shard_token_ids(list(documents.values()), stats, self.config), stats, self.config)
        self.tokenizer = tokenizer or vocab_tokenizer(self.config, stats.vocab)


def check_shards(shards: int) -> int:
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"bm25.shards must be a positive integer (1: one index), got {shards!r}")
    return shards


def split_documents(documents: dict[str, str], shards: int) -> list[dict[str, str]]:
    """``documents`` in ``shards`` parts of consecutive documents (sizes differ by at most
    one; no more parts than documents)."""
    items = list(documents.items())
    return [dict(items[part.start : part.stop]) for part in partition(len(items), check_shards(shards))]


class ShardedBM25(BM25Base):
    """A BM25 index of ``documents`` in ``config.shards`` shards of consecutive documents,
    built in this process with statistics counted per shard and merged; every score
    vector, candidate score and top-k run equals the one-index
    :class:`~rankwright.retrieval.bm25.BM25`'s."""

    def __init__(self, documents: dict[str, str], config: BM25Config | None = None, *, progress: bool = True):
        super().__init__(documents)
        self.config = config or BM25Config()
        parts = split_documents(documents, self.config.shards)
        counts = [shard_counts(p.values(), self.config) for p in tqdm(parts, "BM25 counts", disable=not progress)]
        self.stats = corpus_stats(merge_counts(counts))
        self.tokenizer = vocab_tokenizer(self.config, self.stats.vocab)
        self.shards = [
            BM25Shard(p, self.stats, self.config, tokenizer=self.tokenizer)
            for p in tqdm(parts, "BM25 shards", disable=not progress)
        ]

    def query_scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed document for ``query`` (0 for no shared term)."""
        ids = query_token_ids(self.tokenizer, query)
        return np.concatenate([index_scores(shard.model, ids) for shard in self.shards])

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "shards": len(self.shards)}


def merge_top_k(runs: Iterable[pd.DataFrame], top_k: int) -> pd.DataFrame:
    """The ``top_k`` best rows per query of per-shard runs (query_id, doc_id, score; each
    shard's own top-k or more), equal scores ordered by doc_id descending as trec_eval
    orders them; queries in order of first appearance. Equals the one-index top-k."""
    frames = [run for run in runs if len(run)]
    if not frames:
        return pd.DataFrame({QUERY_ID: [], DOC_ID: [], SCORE: []})
    run = pd.concat(frames, ignore_index=True)
    query = pd.Categorical(run[QUERY_ID], categories=pd.unique(run[QUERY_ID]))
    run = run.assign(_query=query.codes, _doc=run[DOC_ID].astype(str))
    run = run.sort_values(["_query", SCORE, "_doc"], ascending=[True, False, False], kind="stable")
    run = run.groupby("_query", sort=False).head(top_k)
    return run[[QUERY_ID, DOC_ID, SCORE]].reset_index(drop=True)
