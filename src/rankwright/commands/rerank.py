"""``rankwright rerank``: rescore a run (TREC) or the data's own candidates with a model
and write the reranked run.

A fused model (``fusion`` in its ``rankwright.json``, see ``rankwright fuse``) scores
by the fused score, with the run file's scores as the first-stage scores; without a
run file (the data's own candidates have no first-stage scores) a fusion that weights
them is an error."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from rankwright.cluster.blocks import query_blocks
from rankwright.cluster.session import Executor, Handle, executor
from rankwright.commands.configs import RerankConfig
from rankwright.data.readers import read_relevance, read_run, write_run
from rankwright.data.records import DOC, DOC_ID, PROBABILITY, QUERY, QUERY_ID, SCORE
from rankwright.inference.candidates import FIRST_STAGE_SCORE, attach_texts
from rankwright.inference.fusion import required_components
from rankwright.inference.reranker import Reranker
from rankwright.models.loading import resolve_model_path
from rankwright.models.metadata import ModelMetadata
from rankwright.output_guard import claim_file, writes_output

log = logging.getLogger(__name__)


def top_k_of(run: pd.DataFrame, k: int | None) -> pd.DataFrame:
    if k is None:
        return run
    if k < 1:
        raise ValueError(f"top_k must be at least 1 (or unset: every document of the run), got {k}")
    ordered = run.sort_values([QUERY_ID, SCORE, DOC_ID], ascending=[True, False, False], kind="mergesort")
    return ordered.groupby(QUERY_ID, sort=False).head(k)


def rerank_candidates(reranker: Reranker, candidates: pd.DataFrame, batch_size: int, progress: bool) -> pd.DataFrame:
    """(query_id, doc_id, score) of the model for each candidate row (query and doc
    texts), with ``pred_class`` for class models and the calibrated ``probability`` when
    the model folder has a calibration.

    A fused model's ``score`` is the fused score (normalised per query_id), with the
    candidates' ``first_stage_score`` column as first-stage scores, and its own score in
    ``reranker_score``; a fusion that weights first-stage scores raises a ValueError
    (before scoring) when the candidates have none."""
    fused = bool(reranker.metadata.fusion)
    first_stage = candidates[FIRST_STAGE_SCORE].to_numpy(dtype=float) if FIRST_STAGE_SCORE in candidates else None
    if fused:
        reranker.check_fusion_inputs(first_stage is not None)
    logits = reranker.logits(
        candidates[QUERY].tolist(), candidates[DOC].tolist(), batch_size=batch_size, progress=progress
    )
    out = candidates[[QUERY_ID, DOC_ID]].copy()
    out[SCORE] = reranker.scores_from_logits(logits)
    if fused:
        out["reranker_score"] = out[SCORE]
        out[SCORE] = reranker.fused_from_logits(
            logits,
            candidates[QUERY].tolist(),
            candidates[DOC].tolist(),
            first_stage,
            query_ids=candidates[QUERY_ID].tolist(),
            progress=progress,
        )
    if reranker.metadata.num_labels > 1:
        out["pred_class"] = reranker.classes_from_logits(logits)
    if reranker.metadata.calibration:
        out[PROBABILITY] = reranker.calibrated_from_logits(logits)
    return out


def load_reranker(path: str) -> Reranker:
    return Reranker.from_pretrained(path)


def reranker_handle(ex: Executor, path: str) -> Handle:
    """The model for the tasks: loaded here now, or on a cluster by each worker once
    (this process then loads no weights)."""
    return ex.model(partial(load_reranker, path), f"the model {path}")


def saved_fusion(path: str) -> dict | None:
    """The score fusion a model folder's ``rankwright.json`` records (none for a plain
    Hugging Face model), read without loading the weights."""
    folder = resolve_model_path(path)
    return ModelMetadata.load(folder).fusion if ModelMetadata.exists(folder) else None


def _rerank_block(model: Handle, batch_size: int, candidates: pd.DataFrame) -> pd.DataFrame:
    return rerank_candidates(model.get(), candidates, batch_size, progress=False)


def rerank_in_blocks(
    ex: Executor, model: Handle, candidates: pd.DataFrame, batch_size: int, block: int
) -> pd.DataFrame:
    """``rerank_candidates`` block by block (whole queries, ``block`` pairs or more), here
    or on the executor's cluster; rows in the order of ``candidates``. The scores do not
    depend on where the blocks run."""
    blocks = query_blocks(candidates[QUERY_ID].tolist(), block) or [np.arange(0)]  # no rows: one empty block
    parts = list(ex.map(partial(_rerank_block, model, batch_size), [candidates.iloc[b] for b in blocks], "reranking"))
    out = pd.concat(parts, ignore_index=True)
    return out.iloc[np.argsort(np.concatenate(blocks), kind="stable")].set_axis(candidates.index)


@writes_output(lambda config: claim_file(config.output, overwrite=config.overwrite))
def main(config: RerankConfig) -> pd.DataFrame:
    if not config.model:
        raise ValueError("rerank needs model=<folder>")
    # first: an unreachable cluster fails before any data or model is read
    with executor(config.dask, near=config.output, progress=config.progress) as ex:
        data = read_relevance(config.data)
        log.info("%s", data.report.summary())
        if config.run:
            candidates = attach_texts(top_k_of(read_run(config.run), config.top_k), data, config.run)
        else:
            candidates = data.pairs[[QUERY_ID, QUERY, DOC_ID, DOC]]
        fusion = saved_fusion(config.model)
        if fusion and not config.run and "first_stage" in required_components(fusion):
            raise ValueError(
                f"{config.model} fuses its score with first-stage scores "
                f"(weight {fusion['weights']['first_stage']:g}): rerank needs --run <first-stage TREC run>, "
                "whose scores are used; the data's own candidates have none"
            )
        log.info("reranking %d pairs of %d queries", len(candidates), candidates[QUERY_ID].nunique())
        model = reranker_handle(ex, config.model)
        run = rerank_in_blocks(ex, model, candidates, config.batch_size, config.block)
    Path(config.output).parent.mkdir(parents=True, exist_ok=True)
    write_run(run, config.output, tag=Path(config.model).name or "rankwright")
    log.info("wrote %s", config.output)
    return run
