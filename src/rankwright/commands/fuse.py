"""``rankwright fuse``: fit a score fusion for a model folder on validation queries.

The validation queries' candidates of a first-stage run (TREC) are scored by the
model (and by a dense model with ``--dense_model``); method and weights are chosen by
grid search on validation nDCG@10 (``rankwright.inference.fusion.fit_fusion``) and
written as ``fusion`` into the folder's ``rankwright.json``, with where it was fitted.
Every candidate's nDCG@10 is reported, each component alone included, so one sees
whether fusion beats each of them; ties go to the reranker alone.
"""

from __future__ import annotations

import logging
from typing import Any

from rankwright.commands.configs import FuseConfig
from rankwright.commands.rerank import top_k_of
from rankwright.data.loading import load_data
from rankwright.data.readers import read_run
from rankwright.data.records import DOC, DOC_ID, QUERY, QUERY_ID
from rankwright.evaluation.evaluate import judged_qrels
from rankwright.inference.candidates import add_dense, attach_texts, fusion_components
from rankwright.inference.fusion import fit_fusion
from rankwright.inference.reranker import Reranker
from rankwright.models.card import save_fusion
from rankwright.models.metadata import ModelMetadata

log = logging.getLogger(__name__)


def main(config: FuseConfig) -> dict[str, Any]:
    if not config.model:
        raise ValueError("fuse needs model=<folder>")
    if not config.run:
        raise ValueError("fuse needs run=<first-stage TREC run>: its scores are the first-stage component")
    if not ModelMetadata.exists(config.model):
        raise ValueError(f"{config.model} has no rankwright.json: fuse a model folder that rankwright wrote")
    loaded = load_data(config)
    run = top_k_of(read_run(config.run), config.top_k)
    queries = set(loaded.subset.pairs[QUERY_ID].astype(str))
    run = run[run[QUERY_ID].astype(str).isin(queries)]
    if run.empty:
        raise ValueError(f"{config.run} has no candidates for the {config.subset} queries; do the query ids match?")
    candidates = attach_texts(run, loaded.full, config.run)
    reranker = Reranker.from_pretrained(config.model)
    own = reranker.score(  # the model's own score, even if it was fused before
        candidates[QUERY].tolist(),
        candidates[DOC].tolist(),
        batch_size=config.batch_size,
        progress=config.progress,
        fused=False,
    )
    encoder = None
    if config.dense_model:
        from rankwright.retrieval.dense import DenseConfig, DenseEncoder

        encoder = DenseEncoder(DenseConfig(model=config.dense_model, batch_size=config.batch_size))
    candidates = add_dense(candidates, encoder, progress=config.progress)
    components = fusion_components(candidates, own)
    n_queries = int(candidates[QUERY_ID].nunique())
    fusion, table = fit_fusion(
        components,
        candidates[QUERY_ID].astype(str).tolist(),
        candidates[DOC_ID].astype(str).tolist(),
        judged_qrels(loaded.subset, loaded.scheme),
        loaded.scheme.relevant_gain,
        config.methods,
        config.grid,
        dense_model=config.dense_model,
    )
    fitted_on = f"{config.data.path} ({config.subset}, {n_queries} queries, {len(candidates)} candidates)"
    fitted_on += f", first stage {config.run}"
    metadata = save_fusion(config.model, {**fusion, "fitted_on": fitted_on})
    log.info("wrote the fusion (fitted on %s) into %s/rankwright.json", fitted_on, config.model)
    return {"fusion": metadata.fusion, "table": table, "queries": n_queries, "candidates": len(candidates)}
