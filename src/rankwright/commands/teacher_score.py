"""``rankwright teacher-score``: score every (query, document) of a data file with a
trained reranker and write FlagEmbedding-style grouped JSONL with the teacher's scores
(``pos_scores``/``neg_scores``), which ``rankwright train`` reads for the distillation
losses (``margin_mse``, ``listwise_kl``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from rankwright.commands.configs import TeacherScoreConfig
from rankwright.data.loading import load_data
from rankwright.data.records import DOC, LABEL, QUERY, QUERY_ID
from rankwright.inference.reranker import Reranker
from rankwright.output_guard import claim_file, writes_output

log = logging.getLogger(__name__)


@writes_output(lambda config: claim_file(config.output, overwrite=config.overwrite))
def main(config: TeacherScoreConfig) -> Path:
    if not config.model:
        raise ValueError("teacher-score needs model=<folder>")
    loaded = load_data(config)
    pairs = loaded.subset.pairs
    reranker = Reranker.from_pretrained(config.model)
    log.info("teacher-scoring %d pairs of %d queries with %s", len(pairs), pairs[QUERY_ID].nunique(), config.model)
    logits = reranker.logits(
        pairs[QUERY].tolist(), pairs[DOC].tolist(), batch_size=config.batch_size, progress=config.progress
    )
    # The scale the student should match: the raw logit (yes - no for generative models),
    # or the expected gain of a class model -- the scalar a calibration maps too.
    scores = reranker.raw_scalar(logits)
    relevant = loaded.scheme.relevant(pairs[LABEL])
    out = Path(config.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for rows in pairs.groupby(QUERY_ID, sort=False).indices.values():
            pos, neg = rows[relevant[rows]], rows[~relevant[rows]]
            record = {
                "query": pairs[QUERY].iat[rows[0]],
                "pos": pairs[DOC].to_numpy()[pos].tolist(),
                "neg": pairs[DOC].to_numpy()[neg].tolist(),
                "pos_scores": np.asarray(scores[pos], dtype=float).tolist(),
                "neg_scores": np.asarray(scores[neg], dtype=float).tolist(),
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    log.info("wrote %s", out)
    return out
