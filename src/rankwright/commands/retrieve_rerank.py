"""``rankwright retrieve-rerank``: the realistic evaluation of a reranker. A first
stage (BM25 or dense) retrieves the top k documents of each query from the corpus,
the model reranks exactly those, and both runs are evaluated side by side with
trec_eval's metrics and a paired test, with both run files written.

``oracle: true`` also injects every judged relevant document the first stage missed
into the candidates before reranking: an upper bound on what the reranker could do,
never a number to report as the system's; the output says so."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from rankwright.cluster.blocks import chunks
from rankwright.cluster.session import Executor, Handle, executor
from rankwright.commands.configs import RetrieveRerankConfig
from rankwright.commands.evaluate import model_label
from rankwright.commands.rerank import rerank_in_blocks, reranker_handle
from rankwright.data.loading import load_data
from rankwright.data.readers import write_run
from rankwright.data.records import DOC_ID, LABEL, QUERY_ID
from rankwright.evaluation.evaluate import judged_qrels
from rankwright.evaluation.ranking import evaluate_run
from rankwright.evaluation.report import format_table, write_json
from rankwright.evaluation.significance import format_comparison, paired_comparison
from rankwright.inference.candidates import attach_texts
from rankwright.output_guard import claim_folder, writes_output
from rankwright.retrieval import build_retriever
from rankwright.retrieval.config import KINDS

log = logging.getLogger(__name__)

#: what retrieve-rerank writes into its folder
OUTPUTS = (*(f"{kind}.trec" for kind in KINDS), "reranked.trec", "metrics.json", "per_query.csv")


@dataclass
class RetrieveRerankResult:
    metrics: dict[str, Any]
    table: str
    comparison: str
    paths: dict[str, str]


def inject_positives(candidates: pd.DataFrame, data, scheme) -> tuple[pd.DataFrame, dict[str, int]]:
    """The oracle setting: judged relevant documents missing from a query's candidates are added."""
    judged = data.pairs[scheme.relevant(data.pairs[LABEL])][[QUERY_ID, DOC_ID]]
    have = pd.MultiIndex.from_frame(candidates[[QUERY_ID, DOC_ID]])
    missing = judged[~pd.MultiIndex.from_frame(judged).isin(have)]
    if missing.empty:  # the first stage found every judged relevant document (attach_texts raises on none)
        return candidates, {"documents_injected": 0, "queries_with_injections": 0}
    added = attach_texts(missing, data, "qrels")
    counts = {"documents_injected": len(added), "queries_with_injections": int(added[QUERY_ID].nunique())}
    return pd.concat([candidates, added], ignore_index=True), counts


@dataclass
class _Retrieved:
    """The first stage's run and the candidates to rerank (with the oracle's additions)."""

    first: pd.DataFrame
    candidates: pd.DataFrame
    oracle: dict[str, Any] | None
    retriever: Any
    queries: int


@writes_output(lambda config: claim_folder(config.output_dir, OUTPUTS, overwrite=config.overwrite))
def main(config: RetrieveRerankConfig) -> RetrieveRerankResult:
    if not config.model:
        raise ValueError("retrieve-rerank needs model=<folder>")
    with executor(config.dask, near=Path(config.output_dir) / "job", progress=config.progress) as ex:
        loaded = load_data(config)  # an unreachable cluster fails before this
        retrieved = _retrieve(config, loaded, ex)
        candidates = retrieved.candidates
        log.info("reranking %d candidates of %d queries with %s", len(candidates), retrieved.queries, config.model)
        # blocks of whole queries, about as many pairs as `block` queries' candidates (fixed by the data)
        pairs_per_block = config.block * max(1, len(candidates) // max(1, retrieved.queries))
        model = reranker_handle(ex, config.model)
        reranked = rerank_in_blocks(ex, model, candidates, config.batch_size, pairs_per_block)
    return _evaluate_and_write(config, loaded, retrieved, reranked)


def _retrieve_block(retriever: Handle, top_k: int, queries: dict[str, str]) -> pd.DataFrame:
    return retriever.get().retrieve(queries, top_k, progress=False)


def _retrieve(config: RetrieveRerankConfig, loaded: Any, ex: Executor) -> _Retrieved:
    """The first stage's top k of each query of the subset from the corpus, with texts."""
    if loaded.full.corpus is None:
        log.warning("the data has no corpus (not a BEIR/SMART collection): retrieving from the documents of its pairs")
    documents = loaded.full.documents()
    texts = loaded.subset.query_texts()
    queries = {q: texts[q] for q in dict.fromkeys(loaded.subset.pairs[QUERY_ID])}
    retriever = build_retriever(config.retriever, documents, progress=config.progress)
    blocks = [dict(b) for b in chunks(list(queries.items()), config.block)] or [{}]
    work = partial(_retrieve_block, ex.share(retriever, "retriever"), config.retriever.top_k)
    first = pd.concat(list(ex.map(work, blocks, "retrieval")), ignore_index=True)
    candidates = attach_texts(first, loaded.full, config.retriever.kind)
    oracle: dict[str, Any] | None = None
    if config.oracle:
        candidates, oracle = inject_positives(candidates, loaded.subset, loaded.scheme)
        log.warning(
            "ORACLE: %d judged relevant documents the first stage missed were added to %d queries' candidates; "
            "the reranked numbers are an upper bound, not a realistic result",
            oracle["documents_injected"],
            oracle["queries_with_injections"],
        )
    return _Retrieved(first, candidates, oracle, retriever, len(queries))


def _evaluate_and_write(
    config: RetrieveRerankConfig, loaded: Any, retrieved: _Retrieved, reranked: pd.DataFrame
) -> RetrieveRerankResult:
    """Both runs evaluated side by side with a paired test; the runs, metrics and per-query numbers written."""
    qrels = judged_qrels(loaded.subset, loaded.scheme)
    first_name = config.retriever.kind
    reranked_name = f"{first_name} + {model_label(config.model)}" + (" (ORACLE)" if retrieved.oracle else "")
    results = {
        first_name: evaluate_run(retrieved.first, qrels, loaded.scheme.relevant_gain, config.metrics),
        reranked_name: evaluate_run(reranked, qrels, loaded.scheme.relevant_gain, config.metrics),
    }
    summaries = {name: r.summary() for name, r in results.items()}
    comparisons = {
        m: paired_comparison(results[reranked_name].per_query, results[first_name].per_query, m)
        for m in ("ndcg@10", "map")
    }
    paths = _write_runs(config, retrieved.first, reranked, results)
    metrics = {
        "setting": "oracle (judged positives injected)"
        if retrieved.oracle
        else "realistic (only retrieved documents reranked)",
        "oracle": retrieved.oracle,
        "model": config.model,
        "subset": config.subset,
        "split": asdict(config.split) | {"queries": loaded.split_counts},
        # top_k last: BM25's describe() carries bm25.top_k, which retrieve-rerank does not use
        "retriever": {"kind": first_name, **retrieved.retriever.describe(), "top_k": config.retriever.top_k},
        "candidates": len(retrieved.candidates),
        "ranking": summaries,
        "reranked_vs_first_stage": comparisons,
        "labels": loaded.scheme.to_dict(),
        "data": loaded.full.report.to_dict(),
    }
    write_json(metrics, Path(paths["metrics"]))
    table = format_table(
        summaries, ["ndcg@10", "map", "mrr", "p@10", *(f"recall@{k}" for k in config.metrics.recall_at)]
    )
    comparison = "\n".join(format_comparison(reranked_name, first_name, c) for c in comparisons.values())
    return RetrieveRerankResult(metrics, table, comparison, paths)


def _write_runs(
    config: RetrieveRerankConfig, first: pd.DataFrame, reranked: pd.DataFrame, results: dict[str, Any]
) -> dict[str, str]:
    """Both run files and the per-query numbers; the paths of every file (metrics.json is written last)."""
    first_name = config.retriever.kind
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "first_stage_run": str(out / f"{first_name}.trec"),
        "reranked_run": str(out / "reranked.trec"),
        "metrics": str(out / "metrics.json"),
        "per_query": str(out / "per_query.csv"),
    }
    write_run(first, paths["first_stage_run"], tag=first_name)
    write_run(reranked, paths["reranked_run"], tag="rankwright")
    per_query = pd.concat({name: r.per_query for name, r in results.items()}, axis=1)
    per_query.to_csv(paths["per_query"])
    return paths
