"""``rankwright teacher-score``: score every (query, document) of a data file with a
trained reranker and write FlagEmbedding-style grouped JSONL with the teacher's scores
(``pos_scores``/``neg_scores``), which ``rankwright train`` reads for the distillation
losses (``margin_mse``, ``listwise_kl``)."""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path

import numpy as np

from rankwright.cluster.blocks import query_blocks
from rankwright.cluster.session import Executor, Handle, executor
from rankwright.commands.configs import TeacherScoreConfig
from rankwright.commands.rerank import reranker_handle
from rankwright.data.loading import load_data
from rankwright.data.records import DOC, LABEL, QUERY, QUERY_ID
from rankwright.output_guard import claim_file, writes_output

log = logging.getLogger(__name__)


def _raw_block(model: Handle, batch_size: int, block: tuple[list[str], list[str]]) -> np.ndarray:
    """The scale the student should match: the raw logit (yes - no for generative
    models), or the expected gain of a class model -- the scalar a calibration maps too."""
    reranker = model.get()
    queries, docs = block
    return np.asarray(reranker.raw_scalar(reranker.logits(queries, docs, batch_size=batch_size, progress=False)))


def raw_scores_in_blocks(ex: Executor, model: Handle, pairs, config: TeacherScoreConfig) -> np.ndarray:
    """The teacher's raw score of every pair, block by block (whole queries), in row order."""
    blocks = query_blocks(pairs[QUERY_ID].tolist(), config.block)
    queries, docs = pairs[QUERY].to_numpy(), pairs[DOC].to_numpy()
    work = [(queries[b].tolist(), docs[b].tolist()) for b in blocks]
    scores = np.zeros(len(pairs), dtype=np.float64)
    parts = ex.map(partial(_raw_block, model, config.batch_size), work, "teacher scoring")
    for rows, part in zip(blocks, parts, strict=True):
        scores[rows] = part
    return scores


@writes_output(lambda config: claim_file(config.output, overwrite=config.overwrite))
def main(config: TeacherScoreConfig) -> Path:
    if not config.model:
        raise ValueError("teacher-score needs model=<folder>")
    # first: an unreachable cluster fails before any data or model is read
    with executor(config.dask, near=config.output, progress=config.progress) as ex:
        loaded = load_data(config)
        pairs = loaded.subset.pairs
        log.info("teacher-scoring %d pairs of %d queries with %s", len(pairs), pairs[QUERY_ID].nunique(), config.model)
        scores = raw_scores_in_blocks(ex, reranker_handle(ex, config.model), pairs, config)  # loads here unless on Dask
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
