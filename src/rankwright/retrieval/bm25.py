"""BM25 with bm25s: scores for given candidates (IDF over every document of the
input) and top-k retrieval over a corpus."""

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


def _stemmer(name: str | None) -> Any:
    if not name or name.lower() == "none":
        return None
    try:
        import Stemmer
    except ImportError as err:
        raise ImportError("bm25.stemmer needs PyStemmer: pip install PyStemmer") from err
    return Stemmer.Stemmer(name)


class BM25(Retriever):
    """A BM25 index over ``documents`` (doc_id -> text)."""

    name = "BM25"

    def __init__(self, documents: dict[str, str], config: BM25Config | None = None, *, progress: bool = True):
        super().__init__(documents)
        self.config = config or BM25Config()
        stopwords = self.config.stopwords
        self.tokenizer = bm25s.tokenization.Tokenizer(
            stopwords=[] if not stopwords or str(stopwords).lower() == "none" else stopwords,
            stemmer=_stemmer(self.config.stemmer),
        )
        tokens = self.tokenizer.tokenize(
            list(documents.values()), update_vocab=True, return_as="ids", show_progress=progress
        )
        self.model = bm25s.BM25(k1=self.config.k1, b=self.config.b, method=self.config.method)
        vocab = self.tokenizer.get_vocab_dict()
        self.model.index(bm25s.tokenization.Tokenized(ids=tokens, vocab=vocab), show_progress=progress)

    def query_scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed document for ``query`` (0 for no shared term)."""
        ids = self.tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)[0]
        n_vocab = len(self.model.scores["indptr"]) - 1
        ids = [i for i in ids if 0 <= i < n_vocab]
        if not ids:
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        return self.model.get_scores_from_ids(ids)

    def iter_scores(self, queries: dict[str, str], *, progress: bool = True):
        for qid, text in progress_over(queries.items(), "BM25 retrieval", progress, len(queries)):
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
