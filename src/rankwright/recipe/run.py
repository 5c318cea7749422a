"""The recipe, step by step: judged queries in, the best ranking system the data
supports out, measured on held-out test queries (``rankwright recipe`` runs it).

1. split the queries into train/val/test (by query);
2. first stage: BM25 (or dense) top k from the corpus; without a corpus, BM25 over
   each query's given candidates;
3. zero-shot dense rerank: the packaged MiniLM sentence-embedding model's cosine;
4. training pairs: judged positives and mined negatives (the first stage's ranking);
5. warm-up on the dense teacher's scores, then supervised training with the best
   checkpoint by validation nDCG@10 and early stopping; with ``warmup.choose``, the
   supervised phase from the base encoder too; of those and the warm-up model itself,
   the best on validation is kept;
6. the dense model fine-tuned as a bi-encoder on the same pairs (in-batch negatives);
7. selection on the validation queries only: the fine-tuned reranker, the fine-tuned
   bi-encoder, the first stage, the dense rerank, or a fusion of them, whichever
   scores best, and with a corpus the fine-tuned bi-encoder's own top k of the corpus
   (it then replaces the first stage); a plain warning when a fine-tuned model is
   below the first stage;
8. every system and the selected one on the test queries: one table, paired tests,
   TREC runs, ``compare.html``, ``recipe.json``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rankwright.data.loading import LoadedData
from rankwright.data.records import DOC, QUERY
from rankwright.evaluation.comparison import Comparison
from rankwright.evaluation.config import CompareConfig
from rankwright.evaluation.ranking import GAIN, RankingConfig
from rankwright.evaluation.report import format_table, write_json
from rankwright.evaluation.significance import format_comparison
from rankwright.inference.reranker import Reranker
from rankwright.output_guard import Claim, claim_folder, writes_output
from rankwright.recipe.baselines import write_baselines
from rankwright.recipe.budget import RecipePlan, estimate_phases, make_plan, measure_units
from rankwright.recipe.clock import Clock
from rankwright.recipe.config import RecipeConfig
from rankwright.recipe.heldout import evaluate_heldout, other_reranker_row, system_runs
from rankwright.recipe.phases import PhaseInputs, RerankerChoice
from rankwright.recipe.prepare import Prepared, prepare, training_pairs
from rankwright.recipe.resume import check_or_record, continues
from rankwright.recipe.retrieval_stage import RetrievalStage, bi_encoder_retrieval
from rankwright.recipe.selection import Selection
from rankwright.recipe.shipping import select_system
from rankwright.recipe.training import Trained, train_bi_encoder, train_reranker
from rankwright.recipe.training_data import validation_pairs, write_pairs
from rankwright.training.run import TrainResult, last_complete_checkpoint

log = logging.getLogger(__name__)

#: system -> split (val, test) -> scores of that split's candidates
Scores = dict[str, dict[str, np.ndarray]]

#: what the recipe writes into output_dir: its training files, each phase's folder, the runs and reports
OUTPUTS = (
    "data",
    "bi_encoder",
    "warmup",
    "reranker",
    "reranker_*",
    "runs",
    "baselines.json",
    "selection.csv",
    "recipe.json",
    "compare.json",
    "compare.html",
    "per_query.csv",
    "figures",
    "recipe_state.json",
)
RESUME_HINT = (
    "rerunning the same command continues it (finished training phases reused, an interrupted one from its "
    "last checkpoint)"
)


@dataclass
class RecipeResult:
    table: str
    messages: list[str]
    comparisons: str
    selection: Selection
    metrics: dict[str, Any]
    paths: dict[str, str]


def _claim(config: RecipeConfig) -> Claim:
    """The output folder; an earlier run of the same recipe there is continued (another
    one is refused, naming what differs), as is any run with ``--training.resume true``."""
    resume = config.training.resume or continues(config, Path(config.output_dir), config.overwrite)
    return claim_folder(config.output_dir, OUTPUTS, overwrite=config.overwrite, resume=resume, resume_hint=RESUME_HINT)


def _kept_after_interrupt(claim: Claim) -> str | None:
    """An interrupted recipe keeps its folder when a training phase left a checkpoint."""
    checkpoints = [c for d in claim.entries() if d.is_dir() and (c := last_complete_checkpoint(d)) is not None]
    if not checkpoints:
        return None
    return f"training checkpoints left in {claim.folder} ({', '.join(checkpoints)}); {RESUME_HINT}"


@writes_output(_claim, _kept_after_interrupt)
def main(config: RecipeConfig) -> RecipeResult:
    """Run every step of the recipe with ``config``; the files go to ``config.output_dir``."""
    config.check()
    started = time.perf_counter()
    clock = Clock()
    out = Path(config.output_dir)
    prep = prepare(config)
    check_or_record(config, out, overwrite=config.overwrite)  # the data read: this run can be continued
    over_corpus = prep.first.over_corpus
    metrics = config.metrics if over_corpus else replace(config.metrics, recall_at=[])
    baselines = write_baselines(prep.ranked, prep.parts, prep.loaded.scheme, metrics, prep.first.name, out)
    clock.lap("split_first_stage_and_dense")

    pairs, mining = training_pairs(config, prep)
    inputs = _phase_inputs(config, prep, pairs, out)
    plan = _plan(config, prep, pairs, started)
    clock.lap("training_data")
    biencoder = train_bi_encoder(config, inputs, clock, plan)
    trained = train_reranker(config, inputs, prep.encoder is not None, clock, plan, biencoder)

    scores, others, retrieval = _score_systems(config, prep, trained, plan.rows_not_kept)
    val_scores = {k: v["val"] for k, v in scores.items()}
    selection, model_dir = select_system(config, prep, val_scores, trained, retrieval)
    clock.lap("selection")

    comparison, tests = _test(config, prep, metrics, scores, others, selection, retrieval)
    clock.lap("test")

    columns = ["ndcg@10", "map", "mrr", *(f"recall@{k}" for k in metrics.recall_at)]
    table = format_table(comparison.summaries, columns)
    text = "\n".join(format_comparison(c["system"], c["baseline"], c) for c in tests if c["metric"] == "ndcg@10")
    summary: dict[str, Any] = {
        "queries": prep.counts,
        "first_stage": prep.first.describe(),
        "dense": asdict(config.dense) if prep.encoder is not None else None,
        "mining": mining,
        "training_pairs": len(pairs),
        **_training_summary(trained),
        "selection": _selection_summary(selection, model_dir),
        "bi_encoder_retrieval": None if retrieval is None else {"top_k": retrieval.top_k, "row": retrieval.row},
        "test": {"ranking": comparison.summaries, "paired_tests": tests},
        "config": asdict(config),
        "baselines": baselines,
        "plan": plan.to_dict(),
        "seconds": clock.seconds,
        "total_s": round(time.perf_counter() - plan.started, 2),
    }
    selection.table.to_csv(out / "selection.csv", index=False)
    paths = {"recipe": str(out / "recipe.json"), "model": model_dir, "selection": str(out / "selection.csv")}
    paths["baselines"] = str(out / "baselines.json")
    paths |= comparison.paths
    write_json(summary, Path(paths["recipe"]))
    messages = ([trained.choice.message()] if trained.choice is not None else []) + selection.messages
    messages.append(plan.outcome(summary["total_s"]))
    return RecipeResult(table, messages, text, selection, summary, paths)


#: the recipe from Python: ``run_recipe(RecipeConfig(...))``
run_recipe = main


def _plan(config: RecipeConfig, prep: Prepared, pairs: pd.DataFrame, started: float) -> RecipePlan:
    """The probe and the plan of the training phases (logged): with ``budget``, what runs
    and each phase's share; without, the estimated total time."""
    units = measure_units(
        config.model.name, config.model.max_length, prep.encoder, prep.ranked["val"], config.split.seed
    )
    corpus = len(prep.first.documents) if prep.first.over_corpus else 0
    estimates, one_pass, scoring = estimate_phases(
        config, pairs, prep.ranked, prep.loaded.scheme.relevant_gain, units, prep.encoder is not None, corpus
    )
    plan = make_plan(config, estimates, one_pass, scoring, units, started)
    log.info("%s", plan.describe())
    return plan


def _phase_inputs(config: RecipeConfig, prep: Prepared, pairs: pd.DataFrame, out: Path) -> PhaseInputs:
    """Write the training pairs and the validation candidates as the phases' parquet files."""
    ranked = prep.ranked
    train_file = write_pairs(pairs, prep.encoder, out / "data" / "train.parquet", progress=config.progress)
    val_file = write_pairs(validation_pairs(ranked["val"], config.validation_depth), None, out / "data" / "val.parquet")
    max_gain = int(max(pairs["label"].max(), ranked["val"][GAIN].max()))
    validation = RankingConfig(ndcg_at=[10], precision_at=[], recall_at=[])
    return PhaseInputs(
        train_file,
        val_file,
        prep.loaded.scheme.relevant_gain,
        max_gain,
        config.model,
        config.sampling,
        config.training,
        config.lora,
        validation,
        config.progress,
    )


def model_scores(
    config: RecipeConfig,
    ranked: dict[str, pd.DataFrame],
    model: str | Reranker,
    parts: tuple[str, ...] = ("val", "test"),
) -> dict[str, np.ndarray]:
    """A model's own scores (no fusion) of the ``parts`` candidates; ``model`` is a
    folder or a loaded :class:`Reranker`."""
    reranker = model if isinstance(model, Reranker) else Reranker.from_pretrained(model)
    return {
        name: reranker.score(
            ranked[name][QUERY].tolist(),
            ranked[name][DOC].tolist(),
            batch_size=config.batch_size,
            progress=config.progress,
            fused=False,
        )
        for name in parts
    }


def _score_systems(
    config: RecipeConfig, prep: Prepared, trained: Trained, rows_not_kept: bool = True
) -> tuple[Scores, dict[str, np.ndarray], RetrievalStage | None]:
    """The kept reranker's and the bi-encoder's scores (val and test), the test scores
    of the cross-encoders not kept (the warm-up ablations), by their test-table row, unless
    a budget left no time for them (``rows_not_kept`` false), and the bi-encoder's
    retrieval from the corpus. The bi-encoder keeps its embeddings in memory meanwhile,
    so each distinct text (a document among the validation and the test candidates and
    in the corpus) is encoded once."""
    scores = {"reranker": model_scores(config, prep.ranked, trained.kept.model_dir)}
    retrieval = None
    if trained.biencoder is not None:
        biencoder = Reranker.from_pretrained(trained.biencoder.model_dir)
        biencoder.encoder.keep_embeddings()
        scores["biencoder"] = model_scores(config, prep.ranked, biencoder)
        retrieval = bi_encoder_retrieval(config, prep, trained.biencoder.model_dir, biencoder.encoder)
    others = {}
    not_kept = trained.choice.others if trained.choice is not None else {}
    if not_kept and not rows_not_kept:
        log.info("budget: the cross-encoders not kept (%s) are not scored on the test queries", ", ".join(not_kept))
        not_kept = {}
    for run, result in not_kept.items():
        others[other_reranker_row(run)] = model_scores(config, prep.ranked, result.model_dir, ("test",))["test"]
    return scores, others, retrieval


def _test(
    config: RecipeConfig,
    prep: Prepared,
    metrics: RankingConfig,
    scores: Scores,
    others: dict[str, np.ndarray],
    selection: Selection,
    retrieval: RetrievalStage | None,
) -> tuple[Comparison, list[dict[str, Any]]]:
    """Every system on the test queries: the comparison's files and the paired tests."""
    compare_config = CompareConfig(
        data=config.data,
        labels=config.labels,
        split=config.split,
        subset="test",
        metrics=metrics,
        output_dir=str(Path(config.output_dir)),
    )
    counts = {k: v for k, v in prep.counts.items() if k != "train_available"}
    test_data = LoadedData(prep.loaded.full, prep.parts["test"], prep.loaded.scheme, counts)
    biencoder_test = scores["biencoder"]["test"] if "biencoder" in scores else None
    test = prep.ranked["test"]
    own = (retrieval.row, retrieval.runs["test"]) if retrieval is not None else None
    runs = system_runs(test, scores["reranker"]["test"], selection, prep.first.name, others, biencoder_test, own)
    return evaluate_heldout(runs, test_data, compare_config, prep.first.name)


def _training_summary(trained: Trained) -> dict[str, Any]:
    return {
        "warmup": None if trained.warmup is None else _phase_summary(trained.warmup),
        "supervised": {"model": trained.kept.model_dir, **_phase_summary(trained.kept)},
        "warmup_choice": None if trained.choice is None else _choice_summary(trained.choice),
        "bi_encoder": None
        if trained.biencoder is None
        else {"model": trained.biencoder.model_dir, **_phase_summary(trained.biencoder)},
    }


def _selection_summary(selection: Selection, model_dir: str) -> dict[str, Any]:
    return {
        "chosen": selection.chosen,
        "model": model_dir,
        "uses_reranker": selection.uses_reranker,
        "uses_biencoder": selection.uses_biencoder,
        "retrieval": selection.retrieval,
        "validation": selection.validation,
        "fusion": selection.fusion,
        "messages": selection.messages,
        "candidates": selection.table.to_dict(orient="records"),
    }


def _phase_summary(result: TrainResult) -> dict[str, Any]:
    m = result.metrics
    keys = ("train_runtime_s", "global_steps", "pairs_per_second", "train_loss", "best_validation", "best_step")
    return {**{k: m.get(k) for k in keys}, "stopped_early": m.get("early_stopping"), "output_dir": result.output_dir}


def _choice_summary(choice: RerankerChoice) -> dict[str, Any]:
    not_kept = {name: {"model": run.model_dir, **_phase_summary(run)} for name, run in choice.others.items()}
    return {**choice.to_dict(), "not_kept": not_kept}
