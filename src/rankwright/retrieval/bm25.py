"""BM25 with bm25s: scores for given candidates (IDF over every document of the
input) and top-k retrieval over a corpus."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import bm25s
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from rankwright.data.records import DOC_ID, QUERY, QUERY_ID, SCORE

log = logging.getLogger(__name__)


@dataclass
class BM25Config:
    """BM25 parameters; the defaults are bm25s's, with English stopwords and no stemming."""

    k1: float = field(default=1.5, metadata={"help": "term-frequency saturation"})
    b: float = field(default=0.75, metadata={"help": "length normalisation"})
    method: str = field(default="lucene", metadata={"help": "bm25s variant: lucene|robertson|atire|bm25l|bm25+"})
    stopwords: str | None = field(default="en", metadata={"help": "stopword list (e.g. en) or none"})
    stemmer: str | None = field(default=None, metadata={"help": "PyStemmer language (e.g. english) or none"})
    top_k: int = field(default=100, metadata={"help": "documents retrieved per query"})


def _stemmer(name: str | None) -> Any:
    if not name or name.lower() == "none":
        return None
    try:
        import Stemmer
    except ImportError as err:
        raise ImportError("bm25.stemmer needs PyStemmer: pip install PyStemmer") from err
    return Stemmer.Stemmer(name)


class BM25:
    """A BM25 index over ``documents`` (doc_id -> text)."""

    def __init__(self, documents: dict[str, str], config: BM25Config | None = None, *, progress: bool = True):
        self.config = config or BM25Config()
        stopwords = self.config.stopwords
        self.tokenizer = bm25s.tokenization.Tokenizer(
            stopwords=[] if not stopwords or str(stopwords).lower() == "none" else stopwords,
            stemmer=_stemmer(self.config.stemmer),
        )
        self.doc_ids = np.array(list(documents), dtype=object)
        self._row = {d: i for i, d in enumerate(self.doc_ids)}
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

    def score_candidates(self, pairs: pd.DataFrame, *, progress: bool = True) -> pd.DataFrame:
        """Scores for each (query, doc_id) row of ``pairs``; returns query_id, doc_id, score."""
        out = pairs[[QUERY_ID, DOC_ID]].copy()
        scores = np.zeros(len(pairs), dtype=float)
        rows = pairs[DOC_ID].map(self._row)
        if rows.isna().any():
            missing = pairs.loc[rows.isna(), DOC_ID].iloc[0]
            raise KeyError(f"document {missing!r} is not in the BM25 index")
        positions = rows.to_numpy(dtype=np.int64)
        groups = pairs.groupby(QUERY_ID, sort=False).indices
        for _qid, idx in tqdm(groups.items(), desc="BM25 scoring", unit="query", disable=not progress):
            all_scores = self.query_scores(pairs[QUERY].iloc[idx[0]])
            scores[idx] = all_scores[positions[idx]]
        out[SCORE] = scores
        return out

    def retrieve(self, queries: dict[str, str], top_k: int | None = None, *, progress: bool = True) -> pd.DataFrame:
        """Top-k documents per query (ties at the cut broken by doc_id descending, as
        trec_eval orders them); returns query_id, doc_id, score."""
        k = min(top_k or self.config.top_k, len(self.doc_ids))
        doc_ids = self.doc_ids.astype(str)
        # trec_eval's tie order: score descending, then doc_id descending.
        tie_rank = np.argsort(np.argsort(doc_ids, kind="stable"), kind="stable")
        frames = []
        for qid, text in tqdm(queries.items(), desc="BM25 retrieval", unit="query", disable=not progress):
            scores = self.query_scores(text)
            order = np.lexsort((-tie_rank, -scores))[:k]
            frames.append(pd.DataFrame({QUERY_ID: qid, DOC_ID: doc_ids[order], SCORE: scores[order].astype(float)}))
        return pd.concat(frames, ignore_index=True)

    def describe(self) -> dict[str, Any]:
        return {**asdict(self.config), "n_documents": len(self.doc_ids), "library": f"bm25s {bm25s.__version__}"}
