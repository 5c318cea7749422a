"""What every first-stage retriever shares: an index over a fixed set of documents,
per-query scores over all of them, and exact top-k with trec_eval's tie order."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from rankwright.data.records import DOC_ID, QUERY_ID, SCORE


def top_k_rows(scores: np.ndarray, tie_rank: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the ``k`` best ``scores``, best first; equal scores ordered by
    ``tie_rank`` descending (trec_eval: doc_id descending). Exact at the cut: every row
    tied with the k-th score competes on its tie rank."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k < len(scores):
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        rows = np.flatnonzero(scores >= kth)
    else:
        rows = np.arange(len(scores))
    return rows[np.lexsort((-tie_rank[rows], -scores[rows]))][:k]


class Retriever:
    """Base class: subclasses index ``documents`` and implement :meth:`iter_scores`."""

    name = "retriever"

    def __init__(self, documents: dict[str, str]):
        if not documents:
            raise ValueError(f"{self.name}: the corpus is empty; there is nothing to retrieve from")
        self.doc_ids = np.array(list(documents), dtype=object)
        self.row = {d: i for i, d in enumerate(self.doc_ids)}
        ids = self.doc_ids.astype(str)
        self.tie_rank = np.argsort(np.argsort(ids, kind="stable"), kind="stable")

    def iter_scores(
        self, queries: dict[str, str], *, progress: bool = True, k: int | None = None
    ) -> Iterator[tuple[str, np.ndarray]]:
        """(query_id, score of every indexed document) for each query, in order. ``k``:
        how many of the best documents the caller needs (None: all); an approximate
        index scores at least those and gives every document it did not find ``-inf``."""
        raise NotImplementedError

    def describe(self) -> dict:
        return {"n_documents": len(self.doc_ids)}

    def rows_of(self, doc_ids) -> np.ndarray:
        """Index rows of ``doc_ids``; raises naming the first unknown one."""
        try:
            return np.fromiter((self.row[d] for d in doc_ids), dtype=np.int64)
        except KeyError as err:
            raise KeyError(f"document {err.args[0]!r} is not in the {self.name} index") from None

    def retrieve(self, queries: dict[str, str], top_k: int = 100, *, progress: bool = True) -> pd.DataFrame:
        """Top-k documents per query (never one scored ``-inf``, i.e. not found by an
        approximate index); returns query_id, doc_id, score."""
        frames = []
        ids = self.doc_ids.astype(str)
        for qid, scores in self.iter_scores(queries, progress=progress, k=top_k):
            order = top_k_rows(scores, self.tie_rank, top_k)
            order = order[np.isfinite(scores[order])]
            frames.append(pd.DataFrame({QUERY_ID: qid, DOC_ID: ids[order], SCORE: scores[order].astype(float)}))
        if not frames:
            return pd.DataFrame({QUERY_ID: [], DOC_ID: [], SCORE: []})
        return pd.concat(frames, ignore_index=True)


def progress_over(items, desc: str, progress: bool, total: int | None = None):
    return tqdm(items, desc=desc, unit="query", disable=not progress, total=total)
