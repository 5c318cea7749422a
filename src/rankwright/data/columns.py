"""The fixed column names of relevance data (no pandas here: configuration modules use them)."""

from __future__ import annotations

QUERY_ID = "query_id"
QUERY = "query"
DOC_ID = "doc_id"
DOC = "doc"
LABEL = "label"
#: Optional columns a reader may add: teacher/first-stage scores, the source group.
SCORE = "score"
GROUP = "group"
#: Optional: 1 for a negative given as hard (mined), 0 for a random one.
HARD = "hard"
#: Optional: the split a row belongs to in the source (ESCI's official train/test), used by ``split.by: column``.
SPLIT = "split"
#: Optional, in scored runs: a calibrated P(relevant) beside the ranking score.
PROBABILITY = "probability"

PAIR_COLUMNS = [QUERY_ID, QUERY, DOC_ID, DOC, LABEL]
#: The format of data read from a qrels file alone: ids and labels, no query or document texts.
QRELS_ONLY = "qrels"


#: How the judgments on documents without text are described wherever they are counted.
EVALUATION_ONLY = "judgment(s) on documents without text kept for evaluation only (not trained on or scored)"
