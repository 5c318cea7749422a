"""``rankwright recipe``: judged queries in, the best ranking system the data supports
out, measured on held-out test queries, in one command.

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
   scores best; a plain warning when a fine-tuned model is below the first stage;
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

from rankwright.commands.common import LoadedData, load_data
from rankwright.commands.compare import CompareConfig
from rankwright.data.records import DOC, QUERY, QUERY_ID, RelevanceData
from rankwright.data.split import split_data
from rankwright.evaluation.evaluate import judged_qrels
from rankwright.evaluation.ranking import GAIN, RankingConfig
from rankwright.evaluation.report import format_table, write_json
from rankwright.evaluation.significance import format_comparison
from rankwright.inference.reranker import Reranker
from rankwright.models.card import save_fusion
from rankwright.recipe.baselines import write_baselines
from rankwright.recipe.candidates import FirstStage, add_dense, fusion_components, with_gains
from rankwright.recipe.config import (  # noqa: F401 (re-exported from their old home)
    BiEncoderConfig,
    FusionSearchConfig,
    RecipeConfig,
    WarmupConfig,
)
from rankwright.recipe.heldout import evaluate_heldout, other_reranker_row, system_runs
from rankwright.recipe.phases import PhaseInputs, RerankerChoice, fine_tune_bi_encoder, supervised, warm_up
from rankwright.recipe.selection import Selection, select
from rankwright.recipe.training_data import given_pairs, mined_pairs, validation_pairs, write_pairs
from rankwright.retrieval.dense import DenseEncoder
from rankwright.training.run import TrainResult

log = logging.getLogger(__name__)


@dataclass
class RecipeResult:
    table: str
    messages: list[str]
    comparisons: str
    selection: Selection
    metrics: dict[str, Any]
    paths: dict[str, str]


def sample_queries(part: RelevanceData, n: int | None, seed: int) -> RelevanceData:
    """At most ``n`` queries of ``part``, drawn with a generator seeded by ``seed``."""
    ids = np.array(sorted(part.pairs[QUERY_ID].astype(str).unique()), dtype=object)
    if n is None or n >= len(ids):
        return part
    keep = np.random.default_rng(seed).choice(ids, size=n, replace=False)
    return part.subset(set(keep.tolist()))


class Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 2)
        self._last = now


@dataclass
class Trained:
    warmup: TrainResult | None
    kept: TrainResult  # the reranker the selection uses
    choice: RerankerChoice | None  # after a warm-up: the cross-encoders that competed and which is kept
    biencoder: TrainResult | None = None  # the fine-tuned bi-encoder


def shipped_model(selection: Selection, reranker_dir: str, biencoder_dir: str | None) -> str:
    """The model folder of the selected system: the reranker's when it is used, else the
    bi-encoder's when that is used, else the reranker's (the selection says it is not used)."""
    if not selection.uses_reranker and selection.uses_biencoder and biencoder_dir is not None:
        return biencoder_dir
    return reranker_dir


def _store_fusion(model_dir: str, selection: Selection, fitted_on: str, biencoder_dir: str | None) -> None:
    """Write the selected fusion into the shipped model folder, so ``rerank`` and
    ``Reranker.rank`` apply it; a model selected alone needs none. Shipped as the model
    folder, the bi-encoder's own score is the fusion's ``reranker`` component."""
    if not selection.uses_fine_tuned or selection.chosen in ("reranker alone", "biencoder alone"):
        return
    fusion = {**selection.fusion, "fitted_on": fitted_on}
    if selection.uses_biencoder and not selection.uses_reranker:
        weights = dict(fusion["weights"])
        weights["reranker"] = weights.pop("biencoder")
        fusion["weights"] = weights
        fusion.pop("biencoder_model", None)
    elif selection.uses_biencoder:
        fusion["biencoder_model"] = str(Path(biencoder_dir).resolve())
    save_fusion(model_dir, fusion)


@dataclass
class Prepared:
    """The data, split, first stage and scored validation/test candidates."""

    loaded: LoadedData
    parts: dict[str, RelevanceData]
    train: RelevanceData  # the training queries used (train_queries samples them)
    counts: dict[str, int]
    first: FirstStage
    encoder: DenseEncoder | None
    ranked: dict[str, pd.DataFrame]  # val/test candidates with gain and dense_score


def prepare(config: RecipeConfig) -> Prepared:
    loaded = load_data(config)
    parts = split_data(loaded.full, config.split)
    train_part = sample_queries(parts["train"], config.train_queries, config.split.seed)
    counts = {"train": train_part.n_queries, "train_available": parts["train"].n_queries}
    counts |= {name: parts[name].n_queries for name in ("val", "test")}
    log.info("queries: %s", counts)
    encoder = DenseEncoder(config.dense) if config.dense_enabled else None
    first = FirstStage.build(config.retriever, loaded.full, progress=config.progress, encoder=encoder)
    ranked = {}
    for name in ("val", "test"):
        found = first.candidates(parts[name], loaded.full, progress=config.progress)
        ranked[name] = add_dense(with_gains(found, parts[name], loaded.scheme), encoder, progress=config.progress)
    return Prepared(loaded, parts, train_part, counts, first, encoder, ranked)


def training_pairs(config: RecipeConfig, prep: Prepared) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """Mined pairs (a corpus) or the given judged pairs of the training queries, with the
    mining counts (None without mining)."""
    if not prep.first.over_corpus:
        return given_pairs(prep.train, prep.loaded.scheme), None
    pairs, stats = mined_pairs(prep.first, prep.train, prep.loaded.scheme, config.mining, progress=config.progress)
    return pairs, stats.to_dict()


def train_reranker(
    config: RecipeConfig, inputs: PhaseInputs, has_teacher: bool, clock: Clock, biencoder: TrainResult | None = None
) -> Trained:
    """The warm-up (when enabled and there is a teacher), then the supervised phase; with
    ``warmup.choose``, the supervised phase from the base encoder too, and with
    ``bi_encoder.warm_start`` from the fine-tuned ``biencoder``'s encoder. Of the runs
    and the warm-up model itself, the one with the highest validation nDCG@10 is kept."""
    out = Path(config.output_dir)
    warm = None
    if config.warmup.enabled and not has_teacher:
        log.warning("warmup: no dense teacher (dense.model none), so no warm-up phase")
    elif config.warmup.enabled:
        warm = warm_up(inputs, config.warmup, out / "warmup")
    clock.lap("warmup")
    start_from = config.model.name if warm is None else warm.model_dir
    trained = supervised(inputs, start_from, config.loss, out / "reranker")
    clock.lap("supervised")
    runs = {"with_warmup" if warm is not None else "without_warmup": trained}
    if warm is not None:
        runs["warmup_only"] = warm
        if config.warmup.choose:
            runs["without_warmup"] = supervised(inputs, config.model.name, config.loss, out / "reranker_without_warmup")
            clock.lap("supervised_without_warmup")
    if biencoder is not None and config.bi_encoder.warm_start:
        start = biencoder.model_dir
        runs["from_biencoder"] = supervised(
            inputs, start, config.loss, out / "reranker_from_biencoder", "cross-encoder"
        )
        clock.lap("supervised_from_biencoder")
    if len(runs) == 1:
        return Trained(warm, trained, None, biencoder)
    choice = RerankerChoice(runs)
    log.info("%s", choice.message())
    return Trained(warm, choice.kept, choice, biencoder)


def train_bi_encoder(config: RecipeConfig, inputs: PhaseInputs, clock: Clock) -> TrainResult | None:
    """The dense model fine-tuned as a bi-encoder (when enabled and there is a dense model)."""
    if not config.bi_encoder.enabled:
        return None
    if not config.dense_enabled:
        log.warning("bi_encoder: no dense model (dense.model none) to fine-tune, so no bi-encoder phase")
        return None
    result = fine_tune_bi_encoder(inputs, config.bi_encoder, config.dense.model, Path(config.output_dir) / "bi_encoder")
    clock.lap("bi_encoder")
    return result


def select_system(
    config: RecipeConfig, prep: Prepared, val_scores: dict[str, np.ndarray], trained: Trained
) -> tuple[Selection, str]:
    """Choose on the validation queries; a chosen fusion goes into the shipped model
    folder, whose path is returned with the selection."""
    scheme = prep.loaded.scheme
    biencoder_dir = trained.biencoder.model_dir if trained.biencoder is not None else None
    selection = select(
        prep.ranked["val"],
        fusion_components(prep.ranked["val"], val_scores["reranker"], val_scores.get("biencoder")),
        judged_qrels(prep.parts["val"], scheme),
        scheme.relevant_gain,
        prep.first.name,
        methods=config.fusion.methods,
        grid=config.fusion.grid,
        dense_model=config.dense.model if prep.encoder is not None else None,
        biencoder_model=str(Path(biencoder_dir).resolve()) if biencoder_dir else None,
    )
    source = config.data.path or config.data.corpus
    model_dir = shipped_model(selection, trained.kept.model_dir, biencoder_dir)
    fitted_on = f"{source} (val, {prep.counts['val']} queries), first stage {prep.first.name}"
    _store_fusion(model_dir, selection, fitted_on, biencoder_dir)
    return selection, model_dir


def main(config: RecipeConfig) -> RecipeResult:
    config.check()
    clock = Clock()
    out = Path(config.output_dir)
    prep = prepare(config)
    scheme, ranked = prep.loaded.scheme, prep.ranked
    over_corpus = prep.first.over_corpus
    metrics = config.metrics if over_corpus else replace(config.metrics, recall_at=[])
    baselines = write_baselines(ranked, prep.parts, scheme, metrics, prep.first.name, out)
    clock.lap("split_first_stage_and_dense")

    pairs, mining = training_pairs(config, prep)
    train_file = write_pairs(pairs, prep.encoder, out / "data" / "train.parquet", progress=config.progress)
    val_file = write_pairs(validation_pairs(ranked["val"], config.validation_depth), None, out / "data" / "val.parquet")
    clock.lap("training_data")
    max_gain = int(max(pairs["label"].max(), ranked["val"][GAIN].max()))
    validation = RankingConfig(ndcg_at=[10], precision_at=[], recall_at=[])
    inputs = PhaseInputs(
        train_file,
        val_file,
        scheme.relevant_gain,
        max_gain,
        config.model,
        config.sampling,
        config.training,
        config.lora,
        validation,
        config.progress,
    )
    biencoder = train_bi_encoder(config, inputs, clock)
    trained = train_reranker(config, inputs, prep.encoder is not None, clock, biencoder)

    def scores_of(model_dir: str, parts: tuple[str, ...] = ("val", "test")) -> dict[str, np.ndarray]:
        reranker = Reranker.from_pretrained(model_dir)
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

    scores = {"reranker": scores_of(trained.kept.model_dir)}
    if trained.biencoder is not None:
        scores["biencoder"] = scores_of(trained.biencoder.model_dir)
    others = {}  # the cross-encoders not kept, on test only: the warm-up ablations
    for run, result in (trained.choice.others if trained.choice is not None else {}).items():
        others[other_reranker_row(run)] = scores_of(result.model_dir, ("test",))["test"]
    selection, model_dir = select_system(config, prep, {k: v["val"] for k, v in scores.items()}, trained)
    clock.lap("selection")

    compare_config = CompareConfig(
        data=config.data, labels=config.labels, split=config.split, subset="test", metrics=metrics, output_dir=str(out)
    )
    counts = {k: v for k, v in prep.counts.items() if k != "train_available"}
    test_data = LoadedData(prep.loaded.full, prep.parts["test"], scheme, counts)
    biencoder_test = scores["biencoder"]["test"] if "biencoder" in scores else None
    runs = system_runs(ranked["test"], scores["reranker"]["test"], selection, prep.first.name, others, biencoder_test)
    comparison, tests = evaluate_heldout(runs, test_data, compare_config, prep.first.name)
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
        "warmup": None if trained.warmup is None else _phase_summary(trained.warmup),
        "supervised": {"model": trained.kept.model_dir, **_phase_summary(trained.kept)},
        "warmup_choice": None if trained.choice is None else _choice_summary(trained.choice),
        "bi_encoder": None
        if trained.biencoder is None
        else {"model": trained.biencoder.model_dir, **_phase_summary(trained.biencoder)},
        "selection": {
            "chosen": selection.chosen,
            "model": model_dir,
            "uses_reranker": selection.uses_reranker,
            "uses_biencoder": selection.uses_biencoder,
            "validation": selection.validation,
            "fusion": selection.fusion,
            "messages": selection.messages,
            "candidates": selection.table.to_dict(orient="records"),
        },
        "test": {"ranking": comparison.summaries, "paired_tests": tests},
        "config": asdict(config),
        "baselines": baselines,
        "seconds": clock.seconds,
    }
    selection.table.to_csv(out / "selection.csv", index=False)
    paths = {"recipe": str(out / "recipe.json"), "model": model_dir, "selection": str(out / "selection.csv")}
    paths["baselines"] = str(out / "baselines.json")
    paths |= comparison.paths
    write_json(summary, Path(paths["recipe"]))
    messages = ([trained.choice.message()] if trained.choice is not None else []) + selection.messages
    return RecipeResult(table, messages, text, selection, summary, paths)


def _phase_summary(result) -> dict[str, Any]:
    m = result.metrics
    keys = ("train_runtime_s", "global_steps", "pairs_per_second", "train_loss", "best_validation", "best_step")
    return {**{k: m.get(k) for k in keys}, "stopped_early": m.get("early_stopping"), "output_dir": result.output_dir}


def _choice_summary(choice: RerankerChoice) -> dict[str, Any]:
    not_kept = {name: {"model": run.model_dir, **_phase_summary(run)} for name, run in choice.others.items()}
    return {**choice.to_dict(), "not_kept": not_kept}
