"""The recipe's training and validation files: judged pairs labelled by their gain,
with the dense teacher's cosine as the ``score`` column the distillation losses read.

Training pairs are each training query's judged relevant documents plus negatives:
with a corpus, negatives mined from the first stage's ranking (judged relevant
documents are never negatives); without one, the query's own judged candidates.
Validation pairs are the validation queries' first-stage candidates, so the checkpoint
is chosen on the ranking the reranker will actually see."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from rankwright.data.labels import LabelScheme
from rankwright.data.records import DOC, DOC_ID, LABEL, QUERY, QUERY_ID, SCORE, RelevanceData
from rankwright.evaluation.evaluate import qrels_of
from rankwright.evaluation.ranking import GAIN
from rankwright.mining.negatives import Miner, MiningConfig, MiningStats
from rankwright.recipe.candidates import DENSE_SCORE, FIRST_STAGE_SCORE, FirstStage, add_dense
from rankwright.retrieval.dense import DenseEncoder

log = logging.getLogger(__name__)

COLUMNS = [QUERY_ID, QUERY, DOC_ID, DOC, LABEL, SCORE]


def mined_pairs(
    first: FirstStage, part: RelevanceData, scheme: LabelScheme, config: MiningConfig, *, progress: bool = True
) -> tuple[pd.DataFrame, MiningStats]:
    """Positives (their judged gain) and mined negatives (gain 0) of the queries of ``part``."""
    documents = first.documents
    miner = Miner(first.retriever, documents, config, progress=progress)
    gains = qrels_of(part, scheme).drop_duplicates([QUERY_ID, DOC_ID]).set_index([QUERY_ID, DOC_ID])[GAIN]
    rows = []
    for group in miner.run(part, scheme):
        for doc in group.positives:
            rows.append((group.query_id, group.query, doc.doc_id, int(gains[(group.query_id, doc.doc_id)])))
        rows.extend((group.query_id, group.query, doc.doc_id, 0) for doc in group.negatives)
    frame = pd.DataFrame(rows, columns=[QUERY_ID, QUERY, DOC_ID, LABEL])
    frame[DOC] = frame[DOC_ID].map(documents)
    return frame, miner.stats


def given_pairs(part: RelevanceData, scheme: LabelScheme) -> pd.DataFrame:
    """The judged pairs of ``part`` labelled by their gain."""
    qrels = qrels_of(part, scheme)
    return pd.DataFrame(
        {
            QUERY_ID: part.pairs[QUERY_ID].to_numpy(),
            QUERY: part.pairs[QUERY].to_numpy(),
            DOC_ID: part.pairs[DOC_ID].to_numpy(),
            DOC: part.pairs[DOC].to_numpy(),
            LABEL: qrels[GAIN].to_numpy(),
        }
    )


def validation_pairs(candidates: pd.DataFrame, depth: int | None = None) -> pd.DataFrame:
    """First-stage candidates (with ``gain`` and ``dense_score``) as a training-file frame,
    each query's in first-stage order (trec_eval's: score, then doc_id descending), so that
    ``training.validation_depth`` takes a first stage's top; ``depth`` keeps each query's
    top ``depth``."""
    candidates = candidates.sort_values(
        [QUERY_ID, FIRST_STAGE_SCORE, DOC_ID], ascending=[True, False, False], kind="mergesort"
    )
    if depth is not None:
        candidates = candidates.groupby(QUERY_ID, sort=False).head(depth)
    frame = candidates[[QUERY_ID, QUERY, DOC_ID, DOC, GAIN, DENSE_SCORE]]
    return frame.rename(columns={GAIN: LABEL, DENSE_SCORE: SCORE})


def write_pairs(frame: pd.DataFrame, encoder: DenseEncoder | None, path: Path, *, progress: bool = True) -> Path:
    """Write ``frame`` as a parquet training file; ``score`` is the teacher's cosine
    (computed here when the frame has none), NaN without a teacher."""
    if SCORE not in frame:
        frame = add_dense(frame, encoder, progress=progress).rename(columns={DENSE_SCORE: SCORE})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame[COLUMNS].to_parquet(path, index=False)
    log.info("wrote %s: %d pairs of %d queries", path, len(frame), frame[QUERY_ID].nunique())
    return path
