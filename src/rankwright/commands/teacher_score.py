"""``rankwright teacher-score``: score every (query, document) of a data file with a
trained reranker and write FlagEmbedding-style grouped JSONL with the teacher's scores
(``pos_scores``/``neg_scores``), which ``rankwright train`` reads for the distillation
losses (``margin_mse``, ``listwise_kl``).

Each line is FlagEmbedding's ``{"query", "pos": [text], "neg": [text], "pos_scores",
"neg_scores"}`` (its trainer reads the file as it is) with ``query_id`` and the
documents' ids in ``pos_ids``/``neg_ids``, so ids survive a round trip through the
grouped reader. The layout has positives and negatives only: graded or named labels
are binarised by the label scheme (how many pairs of which label went to ``pos`` and to
``neg`` is logged), and judgments on documents without text (evaluation only) cannot be
scored or written (their number is logged)."""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from rankwright.cluster.blocks import query_blocks
from rankwright.cluster.session import Executor, Handle, executor
from rankwright.commands.configs import TeacherScoreConfig
from rankwright.commands.rerank import reranker_handle
from rankwright.data.labels import label_key
from rankwright.data.loading import load_data
from rankwright.data.records import DOC, DOC_ID, EVALUATION_ONLY, LABEL, QUERY, QUERY_ID
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


def binarised_labels(labels: pd.Series, relevant: np.ndarray) -> dict[str, dict[str, int]] | None:
    """``{"pos": {label: pairs}, "neg": {label: pairs}}`` when writing ``pos``/``neg``
    loses something (a label other than 1 among the positives or other than 0 among the
    negatives: grades, classes); None when the labels are already 1 and 0."""
    numeric = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float)
    if np.array_equal(numeric, relevant.astype(float)):
        return None
    counts: dict[str, dict[str, int]] = {"pos": {}, "neg": {}}
    for side, mask in (("pos", relevant), ("neg", ~relevant)):
        for label, n in labels[mask].value_counts(sort=False).items():
            counts[side][label_key(label)] = int(n)
    return counts


def _label_order(item: tuple[str, int]) -> tuple[int, float, str]:
    """Numbers in numeric order (2 before 10), then names."""
    try:
        return (0, float(item[0]), item[0])
    except ValueError:
        return (1, 0.0, item[0])


def _log_binarised(counts: dict[str, dict[str, int]]) -> None:
    def side(name: str) -> str:
        pairs = sorted(counts[name].items(), key=_label_order)
        return ", ".join(f"label {label}: {n} pairs" for label, n in pairs) or "none"

    log.warning(
        "teacher-score writes positives and negatives only: labels binarised by the label scheme: pos <- %s; "
        "neg <- %s (the labels themselves are not written)",
        side("pos"),
        side("neg"),
    )


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
    relevant = np.asarray(loaded.scheme.relevant(pairs[LABEL]), dtype=bool)
    binarised = binarised_labels(pairs[LABEL], relevant)
    if binarised is not None:
        _log_binarised(binarised)
    eval_only = loaded.subset.eval_only
    if eval_only is not None and len(eval_only):
        log.warning(
            "teacher-score: %d %s are not written: a document without text cannot be scored",
            len(eval_only),
            EVALUATION_ONLY,
        )
    out = Path(config.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc_ids, docs = pairs[DOC_ID].to_numpy(), pairs[DOC].to_numpy()
    with out.open("w", encoding="utf-8") as f:
        for query_id, rows in pairs.groupby(QUERY_ID, sort=False).indices.items():
            pos, neg = rows[relevant[rows]], rows[~relevant[rows]]
            record = {
                "query_id": str(query_id),
                "query": pairs[QUERY].iat[rows[0]],
                "pos": docs[pos].tolist(),
                "neg": docs[neg].tolist(),
                "pos_ids": [str(d) for d in doc_ids[pos]],
                "neg_ids": [str(d) for d in doc_ids[neg]],
                "pos_scores": np.asarray(scores[pos], dtype=float).tolist(),
                "neg_scores": np.asarray(scores[neg], dtype=float).tolist(),
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    log.info("wrote %s", out)
    return out
