"""``rankwright bm25``: a BM25 run over each query's candidates or over a corpus."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from rankwright.commands.configs import BM25CommandConfig
from rankwright.data.loading import load_data
from rankwright.data.readers import write_run
from rankwright.data.records import RelevanceData
from rankwright.output_guard import claim_file, writes_output
from rankwright.retrieval import BM25Config, bm25_index

log = logging.getLogger(__name__)

MODES = ("auto", "rerank", "retrieve")


def resolve_mode(mode: str, data: RelevanceData) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "auto":
        return "retrieve" if data.corpus is not None else "rerank"
    if mode == "retrieve" and data.corpus is None:
        raise ValueError("mode=retrieve needs a corpus (a BEIR or SMART collection); this data only has candidates")
    return mode


def bm25_run(
    full: RelevanceData, subset: RelevanceData, config: BM25Config, mode: str, *, progress: bool = True
) -> pd.DataFrame:
    """BM25 scores: IDF over every document of ``full``; candidates or top-k of ``subset``'s queries."""
    index = bm25_index(full.documents(), config, progress=progress)
    if mode == "retrieve":
        queries = subset.queries or dict(zip(subset.pairs["query_id"], subset.pairs["query"], strict=True))
        return index.retrieve(queries, config.top_k, progress=progress)
    return index.score_candidates(subset.pairs, progress=progress)


@writes_output(lambda config: claim_file(config.output, overwrite=config.overwrite))
def main(config: BM25CommandConfig) -> pd.DataFrame:
    loaded = load_data(config)
    mode = resolve_mode(config.mode, loaded.full)
    log.info("BM25 %s: %s", mode, config.bm25)
    run = bm25_run(loaded.full, loaded.subset, config.bm25, mode, progress=config.progress)
    Path(config.output).parent.mkdir(parents=True, exist_ok=True)
    write_run(run, config.output, tag="bm25")
    log.info("wrote %d lines for %d queries to %s", len(run), run["query_id"].nunique(), config.output)
    return run
