"""Candidate lists with texts: a run's (query_id, doc_id) pairs joined to the query and
document texts of a data source, with counted drops for ids the source does not know;
and the score columns a fusion combines (first stage, dense cosine, reranker)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rankwright.data.records import DOC, DOC_ID, QUERY, QUERY_ID, SCORE, DataError, RelevanceData

if TYPE_CHECKING:
    from rankwright.retrieval.dense import DenseEncoder

log = logging.getLogger(__name__)

FIRST_STAGE_SCORE = "first_stage_score"  # what attach_texts calls a run's score
DENSE_SCORE = "dense_score"  # what add_dense calls the embedding model's cosine


def attach_texts(run: pd.DataFrame, data: RelevanceData, source: str = "run") -> pd.DataFrame:
    """``run`` (query_id, doc_id[, score]) with query and doc texts; rows whose query or
    document text is unknown are dropped and counted in the log. Raises when none is left."""
    queries = data.query_texts()
    docs = data.documents()
    out = run.copy()
    out[QUERY] = out[QUERY_ID].astype(str).map(queries)
    out[DOC] = out[DOC_ID].astype(str).map(docs)
    unknown_q = out[QUERY].isna()
    unknown_d = out[DOC].isna() & ~unknown_q
    if unknown_q.any() or unknown_d.any():
        log.warning(
            "%s: %d rows name a query and %d rows a document that the data does not have; they are dropped",
            source,
            int(unknown_q.sum()),
            int(unknown_d.sum()),
        )
    out = out[~(unknown_q | unknown_d)]
    if out.empty:
        raise DataError(source, "no (query, document) of the run has texts in the data; do the ids match?")
    if SCORE in out:
        out = out.rename(columns={SCORE: FIRST_STAGE_SCORE})
    return out.reset_index(drop=True)


def add_dense(candidates: pd.DataFrame, encoder: DenseEncoder | None, *, progress: bool = True) -> pd.DataFrame:
    """``candidates`` with the cosine of the embedding model (``dense_score``; NaN without one)."""
    out = candidates.copy()
    if encoder is None or out.empty:
        out[DENSE_SCORE] = np.nan
        return out
    out[DENSE_SCORE] = encoder.cosine(out[QUERY].tolist(), out[DOC].tolist(), progress=progress)
    return out


def fusion_components(
    candidates: pd.DataFrame, reranker_scores: np.ndarray | None, biencoder_scores: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The fusion components of each candidate: the reranker's and the fine-tuned
    bi-encoder's scores (when given), the first stage's and the dense cosine (when
    computed for every candidate)."""
    out: dict[str, np.ndarray] = {"first_stage": candidates[FIRST_STAGE_SCORE].to_numpy(dtype=float)}
    if reranker_scores is not None:
        out["reranker"] = np.asarray(reranker_scores, dtype=float)
    if biencoder_scores is not None:
        out["biencoder"] = np.asarray(biencoder_scores, dtype=float)
    if DENSE_SCORE in candidates and candidates[DENSE_SCORE].notna().all():
        out["dense"] = candidates[DENSE_SCORE].to_numpy(dtype=float)
    return out
