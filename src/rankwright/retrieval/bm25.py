"""BM25 with bm25s: scores for given candidates (IDF over every document of the
input) and top-k retrieval over a corpus. The tokenizer, query scoring and what BM25
shares with its sharded form (:mod:`rankwright.retrieval.bm25_shards`) are here."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import bm25s
import numpy as np
import pandas as pd

from rankwright.data.records import DOC_ID, QUERY, QUERY_ID, SCORE
from rankwright.retrieval.base import Retriever, progress_over
from rankwright.retrieval.config import BM25Config

log = logging.getLogger(__name__)


class _Stemmer:
    """PyStemmer's stemmer for ``language`` as a picklable callable: PyStemmer's objects do
    not pickle, so a pickle (a retriever shipped to a Dask worker) keeps the language and
    the copy makes its own stemmer."""

    def __init__(self, language: str):
        try:
            import Stemmer
        except ImportError as err:
            raise ImportError("bm25.stemmer needs PyStemmer: pip install PyStemmer") from err
        self.language = language
        try:
            self._stem = Stemmer.Stemmer(language).stemWord
        except KeyError:
            raise ValueError(
                f"bm25.stemmer {language!r} is not a PyStemmer language; choose one of "
                f"{', '.join(Stemmer.algorithms())}"
            ) from None

    def __call__(self, word: str) -> str:
        return self._stem(word)

    def __getstate__(self) -> dict[str, str]:
        return {"language": self.language}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["language"])


def _stemmer(name: str | None) -> _Stemmer | None:
    if not name or name.lower() == "none":
        return None
    return _Stemmer(name)


def make_tokenizer(config: BM25Config) -> bm25s.tokenization.Tokenizer:
    """A bm25s tokenizer with ``config``'s stopwords and stemmer and an empty vocabulary."""
    stopwords = config.stopwords
    return bm25s.tokenization.Tokenizer(
        stopwords=[] if not stopwords or str(stopwords).lower() == "none" else stopwords,
        stemmer=_stemmer(config.stemmer),
    )


def query_token_ids(tokenizer: bm25s.tokenization.Tokenizer, query: str) -> list[int]:
    """Term ids of ``query`` in ``tokenizer``'s vocabulary (unknown words left out)."""
    return tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)[0]


def index_scores(model: bm25s.BM25, ids: list[int]) -> np.ndarray:
    """Scores of every document of the bm25s index ``model`` for the term ``ids`` (0 for
    no shared term)."""
    n_vocab = len(model.scores["indptr"]) - 1
    ids = [i for i in ids if 0 <= i < n_vocab]
    if not ids:
        return np.zeros(model.scores["num_docs"], dtype=np.float32)
    return model.get_scores_from_ids(ids)


class BM25Base(Retriever):
    """What a BM25 index, a shard and a sharded index share: candidates scored with
    :meth:`query_scores` (subclasses set ``config``, ``tokenizer`` and ``model``, one
    bm25s index, or override it), top-k retrieval, the description."""

    name = "BM25"
    config: BM25Config

    def query_scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed document for ``query`` (0 for no shared term): the
        one bm25s index in ``self.model``, queried with ``self.tokenizer``'s term ids."""
        return index_scores(self.model, query_token_ids(self.tokenizer, query))

    def iter_scores(self, queries: dict[str, str], *, progress: bool = True, k: int | None = None):
        """(query_id, :meth:`query_scores`) for each query; ``k`` is ignored (full vectors)."""
        for qid, text in progress_over(queries.items(), f"{self.name} retrieval", progress, len(queries)):
            yield qid, self.query_scores(text)

    def score_candidates(self, pairs: pd.DataFrame, *, progress: bool = True) -> pd.DataFrame:
        """Scores for each (query, doc_id) row of ``pairs``; returns query_id, doc_id, score."""
        out = pairs[[QUERY_ID, DOC_ID]].copy()
        scores = np.zeros(len(pairs), dtype=float)
        positions = self.rows_of(pairs[DOC_ID])
        groups = pairs.groupby(QUERY_ID, sort=False).indices
        for _qid, idx in progress_over(groups.items(), "BM25 scoring", progress, len(groups)):
            all_scores = self.query_scores(pairs[QUERY].iloc[idx[0]])
            scores[idx] = all_scores[positions[idx]]
        out[SCORE] = scores
        return out

    def retrieve(self, queries: dict[str, str], top_k: int | None = None, *, progress: bool = True) -> pd.DataFrame:
        """Top-k documents per query (ties at the cut broken by doc_id descending, as
        trec_eval orders them); returns query_id, doc_id, score."""
        return super().retrieve(queries, top_k or self.config.top_k, progress=progress)

    def describe(self) -> dict[str, Any]:
        return {**asdict(self.config), "n_documents": len(self.doc_ids), "library": f"bm25s {bm25s.__version__}"}


class BM25(BM25Base):
    """A BM25 index over ``documents`` (doc_id -> text)."""

    def __init__(self, documents: dict[str, str], config: BM25Config | None = None, *, progress: bool = True):
        super().__init__(documents)
        self.config = config or BM25Config()
        self.tokenizer = make_tokenizer(self.config)
        tokens = self.tokenizer.tokenize(
            list(documents.values()), update_vocab=True, return_as="ids", show_progress=progress
        )
        self.model = bm25s.BM25(k1=self.config.k1, b=self.config.b, method=self.config.method)
        vocab = self.tokenizer.get_vocab_dict()
        self.model.index(bm25s.tokenization.Tokenized(ids=tokens, vocab=vocab), show_progress=progress)
