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
from rankwright.data.readers.common import no_repeated_scores
from rankwright.data.readers.tables import read_table_file
from rankwright.data.records import DOC_ID, QUERY_ID, SCORE, DataError
from rankwright.evaluation.evaluate import Evaluation, evaluate_scores
from rankwright.evaluation.html_report import write_report
from rankwright.evaluation.standing import BM25, RANDOM
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
        frame, _ = read_table_file(path, sep_flag=None)
        missing = [c for c in (QUERY_ID, DOC_ID, SCORE) if c not in frame]
        if missing:
            raise DataError(path, f"missing column(s) {missing}; columns present: {list(frame.columns)}")
        frame[SCORE] = pd.to_numeric(frame[SCORE], errors="coerce")
        if frame[SCORE].isna().any():
            row = int(frame.index[frame[SCORE].isna()][0]) + 1
            raise DataError(path, "score is missing or not a number", row=row)
        frame = frame.astype({QUERY_ID: str, DOC_ID: str})
        no_repeated_scores(frame, path)
        return frame
    return read_run(path)[[QUERY_ID, DOC_ID, SCORE]]


class _BM25Run:
    """BM25 on the subset, computed once for whoever asks first (the system, the first
    stage of a model in retrieve mode, the BM25 row)."""

    def __init__(self, config: EvaluateConfig, loaded: LoadedData, mode: str):
        self.config, self.loaded, self.mode = config, loaded, mode
        self._run: pd.DataFrame | None = None

    def __call__(self) -> pd.DataFrame:
        if self._run is None:
            log.info("BM25 %s with %s", self.mode, self.config.bm25)
            c = self.config
            self._run = bm25_run(self.loaded.full, self.loaded.subset, c.bm25, self.mode, progress=c.progress)
        return self._run


def _model_run(config: EvaluateConfig, loaded: LoadedData, mode: str, bm25: _BM25Run) -> pd.DataFrame:
    """Model scores for the subset's candidates; in retrieve mode, for BM25's top k."""
    reranker = Reranker.from_pretrained(config.model)
    candidates = attach_texts(bm25(), loaded.full, "bm25") if mode == "retrieve" else loaded.subset.pairs
    return rerank_candidates(reranker, candidates, config.batch_size, config.progress)


def _evaluate_baseline(config: EvaluateConfig, loaded: LoadedData, mode: str, run: pd.DataFrame, name: str):
    """A baseline evaluated on the same data (no random row, nothing written)."""
    options = replace(config.eval, random_baseline=False)
    return evaluate_scores(loaded.subset, loaded.scheme, run, name, options, mode=mode, top_k=config.bm25.top_k)


def _baselines(
    config: EvaluateConfig, loaded: LoadedData, mode: str, system: str, bm25: _BM25Run
) -> tuple[dict[str, Evaluation], Evaluation | None]:
    """Name -> Evaluation of each baseline row (BM25 whenever the data has texts and the
    system is not BM25, then ``config.baseline``: ``bm25`` or a run file), and the
    ``config.baseline`` one."""
    out: dict[str, Evaluation] = {}
    if mode != "qrels" and system != BM25:
        out[BM25] = _evaluate_baseline(config, loaded, mode, bm25(), BM25)
    if config.baseline == "bm25":
        return out, out.get(BM25) or _evaluate_baseline(config, loaded, mode, bm25(), BM25)
    if not config.baseline:
        return out, None
    name = Path(config.baseline).stem
    name = f"{name} (baseline)" if name in (system, RANDOM, BM25) else name
    out[name] = _evaluate_baseline(config, loaded, mode, load_scores(config.baseline), name)
    return out, out[name]


def _scorer_and_mode(config: EvaluateConfig, loaded: LoadedData) -> tuple[str, str]:
    """The scorer (``auto``: the model when one is given, else the run when one is
    given, else BM25; both is an error) and the evaluation mode; a qrels file alone has
    no texts, so only a run is evaluated there (mode ``qrels``). A run or model the
    chosen scorer does not use is said in the log."""
    if config.scorer not in SCORERS:
        raise ValueError(f"scorer must be one of {SCORERS}, got {config.scorer!r}")
    if config.scorer == "auto" and config.run and config.model:
        raise ValueError(
            f"evaluate got both a run ({config.run}) and a model ({config.model}): say which to evaluate with "
            "--scorer run or --scorer model"
        )
    scorer = config.scorer if config.scorer != "auto" else "model" if config.model else "run" if config.run else "bm25"
    given = {"run": config.run, "model": config.model}
    unused = [f"--{name} {value}" for name, value in given.items() if value and name != scorer]
    if unused:
        log.warning("scorer %s: %s not used (choose it with --scorer)", scorer, " and ".join(unused))
    if loaded.full.has_texts:
        return scorer, resolve_mode(config.mode, loaded.full)
    if scorer != "run" or config.baseline == "bm25":
        raise ValueError(
            f"a qrels file alone ({config.qrels}) has no texts to score with BM25 or a model: "
            "evaluate a run (--run RUN), with a run file as the baseline"
        )
    return scorer, "qrels"


def _system_run(
    config: EvaluateConfig, loaded: LoadedData, scorer: str, mode: str, bm25: _BM25Run, extra: dict
) -> tuple[pd.DataFrame, str]:
    """The evaluated run and its name in the table."""
    if scorer == "bm25":
        extra["bm25"] = asdict(config.bm25)
        return bm25(), BM25
    if scorer == "model":
        if not config.model:
            raise ValueError("scorer=model needs model=<folder>")
        extra["model"] = config.model
        return _model_run(config, loaded, mode, bm25), model_label(config.model)
    if not config.run:
        raise ValueError("scorer=run needs run=<file>")
    return load_scores(config.run), Path(config.run).stem


@writes_output(lambda config: claim_folder(config.output_dir, OUTPUTS, overwrite=config.overwrite))
def main(config: EvaluateConfig) -> Evaluation:
    loaded = load_data(config)
    scorer, mode = _scorer_and_mode(config, loaded)
    extra: dict[str, object] = {
        "subset": config.subset,
        "split": asdict(config.split) | {"queries": loaded.split_counts},
    }
    bm25 = _BM25Run(config, loaded, mode)
    run, system = _system_run(config, loaded, scorer, mode, bm25, extra)
    baselines, baseline = _baselines(config, loaded, mode, system, bm25)
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
        baselines={name: b.results[name] for name, b in baselines.items()},
    )
    if config.report:
        shown = baseline or baselines.get(BM25)  # the report's baseline column: the one asked for, else BM25
        path = write_report(config.output_dir, evaluation, loaded.subset, loaded.scheme, baseline=shown)
        evaluation.paths["report"] = str(path)
    return evaluation
