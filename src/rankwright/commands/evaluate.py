"""``rankwright evaluate``: score relevance data (BM25 or a given run) and report
trec_eval-exact ranking metrics, classification metrics and a random baseline."""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from rankwright.commands.bm25 import bm25_run, resolve_mode
from rankwright.commands.configs import EvaluateConfig
from rankwright.commands.rerank import rerank_candidates
from rankwright.data.loading import LoadedData, load_data
from rankwright.data.readers import read_run
from rankwright.data.readers.tables import read_table_file
from rankwright.data.records import DOC_ID, QUERY_ID, SCORE, DataError
from rankwright.evaluation.evaluate import Evaluation, evaluate_scores
from rankwright.evaluation.html_report import write_report
from rankwright.inference.candidates import attach_texts
from rankwright.inference.reranker import Reranker
from rankwright.output_guard import claim_folder, writes_output

log = logging.getLogger(__name__)

SCORERS = ("auto", "bm25", "run", "model")
#: what evaluate writes into its folder
OUTPUTS = ("metrics.json", "per_query.csv", "run.trec", "predictions.parquet", "report.html", "figures")


def model_label(model: str) -> str:
    """A short name for a model folder: ``parent/name`` (``run/best`` says more than ``best``)."""
    path = Path(model)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name or "model"


def load_scores(path: str) -> pd.DataFrame:
    """A TREC run file, or a parquet/CSV/JSONL table with query_id, doc_id, score
    (and optionally pred_class)."""
    suffixes = {s.lower() for s in Path(path).suffixes}
    if suffixes & {".parquet", ".csv", ".tsv", ".jsonl"}:
        frame, _ = read_table_file(path)
        missing = [c for c in (QUERY_ID, DOC_ID, SCORE) if c not in frame]
        if missing:
            raise DataError(path, f"missing column(s) {missing}; columns present: {list(frame.columns)}")
        frame[SCORE] = pd.to_numeric(frame[SCORE], errors="coerce")
        if frame[SCORE].isna().any():
            row = int(frame.index[frame[SCORE].isna()][0]) + 1
            raise DataError(path, "score is missing or not a number", row=row)
        return frame.astype({QUERY_ID: str, DOC_ID: str})
    return read_run(path)[[QUERY_ID, DOC_ID, SCORE]]


def _model_run(config: EvaluateConfig, loaded: LoadedData, mode: str) -> pd.DataFrame:
    """Model scores for the subset's candidates; in retrieve mode, for BM25's top k."""
    reranker = Reranker.from_pretrained(config.model)
    if mode == "retrieve":
        first = bm25_run(loaded.full, loaded.subset, config.bm25, mode, progress=config.progress)
        candidates = attach_texts(first, loaded.full, "bm25")
    else:
        candidates = loaded.subset.pairs
    return rerank_candidates(reranker, candidates, config.batch_size, config.progress)


def _baseline(config: EvaluateConfig, loaded: LoadedData, mode: str) -> Evaluation:
    """The baseline evaluated on the same data (no random row, nothing written)."""
    if config.baseline == "bm25":
        run = bm25_run(loaded.full, loaded.subset, config.bm25, mode, progress=config.progress)
        name = "bm25"
    else:
        run = load_scores(config.baseline)
        name = Path(config.baseline).stem
    options = replace(config.eval, random_baseline=False)
    return evaluate_scores(loaded.subset, loaded.scheme, run, name, options, mode=mode, top_k=config.bm25.top_k)


def _scorer_and_mode(config: EvaluateConfig, loaded: LoadedData) -> tuple[str, str]:
    """The scorer (``auto``: run when one is given, else BM25) and the evaluation mode;
    a qrels file alone has no texts, so only a run is evaluated there (mode ``qrels``)."""
    if config.scorer not in SCORERS:
        raise ValueError(f"scorer must be one of {SCORERS}, got {config.scorer!r}")
    scorer = config.scorer if config.scorer != "auto" else "run" if config.run else "bm25"
    if loaded.full.has_texts:
        return scorer, resolve_mode(config.mode, loaded.full)
    if scorer != "run" or config.baseline == "bm25":
        raise ValueError(
            f"a qrels file alone ({config.qrels}) has no texts to score with BM25 or a model: "
            "evaluate a run (--run RUN), with a run file as the baseline"
        )
    return scorer, "qrels"


@writes_output(lambda config: claim_folder(config.output_dir, OUTPUTS, overwrite=config.overwrite))
def main(config: EvaluateConfig) -> Evaluation:
    loaded = load_data(config)
    scorer, mode = _scorer_and_mode(config, loaded)
    extra: dict[str, object] = {
        "subset": config.subset,
        "split": asdict(config.split) | {"queries": loaded.split_counts},
    }
    if scorer == "bm25":
        log.info("BM25 %s with %s", mode, config.bm25)
        run = bm25_run(loaded.full, loaded.subset, config.bm25, mode, progress=config.progress)
        extra["bm25"] = asdict(config.bm25)
        system = "bm25"
    elif scorer == "model":
        if not config.model:
            raise ValueError("scorer=model needs model=<folder>")
        run = _model_run(config, loaded, mode)
        extra["model"] = config.model
        system = model_label(config.model)
    else:
        if not config.run:
            raise ValueError("scorer=run needs run=<file>")
        run = load_scores(config.run)
        system = Path(config.run).stem
    baseline = _baseline(config, loaded, mode) if config.baseline else None
    if baseline is not None:
        name = baseline.metrics["system"]
        extra["baseline"] = {"system": name, "source": config.baseline, "ranking": baseline.metrics["ranking"][name]}
    evaluation = evaluate_scores(
        loaded.subset,
        loaded.scheme,
        run,
        system,
        config.eval,
        mode=mode,
        top_k=config.bm25.top_k,
        extra=extra,
        out_dir=config.output_dir,
    )
    if config.report:
        path = write_report(config.output_dir, evaluation, loaded.subset, loaded.scheme, baseline=baseline)
        evaluation.paths["report"] = str(path)
    return evaluation
