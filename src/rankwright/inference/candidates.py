"""Candidate lists with texts: a run's (query_id, doc_id) pairs joined to the query and
document texts of a data source, with counted drops for ids the source does not know."""

from __future__ import annotations

import logging

import pandas as pd

from rankwright.data.records import DOC, DOC_ID, QUERY, QUERY_ID, SCORE, DataError, RelevanceData

log = logging.getLogger(__name__)


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
        out = out.rename(columns={SCORE: "first_stage_score"})
    return out.reset_index(drop=True)
