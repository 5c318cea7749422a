"""``rankwright recipe``: judged queries in, the best ranking system the data supports
out, measured on held-out test queries, in one command.

1. split the queries into train/val/test (by query);
2. first stage: BM25 (or dense) top k from the corpus; without a corpus, BM25 over
   each query's given candidates;
3. zero-shot dense rerank: the packaged MiniLM sentence-embedding model's cosine;
4. training pairs: judged positives and mined negatives (the first stage's ranking);
5. warm-up on the dense teacher's scores, then supervised training with the best
   checkpoint by validation nDCG@10 and early stopping; with ``warmup.choose``, the
   supervised phase from the base encoder too, the better on validation kept;
6. selection on the validation queries only: the fine-tuned reranker, the first stage,
   the dense rerank, or a fusion of them, whichever scores best; a plain warning when
   the reranker is below the first stage;
7. every system and the selected one on the test queries: one table, paired tests,
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
from rankwright.evaluation.evaluate import qrels_of
from rankwright.evaluation.ranking import GAIN, RankingConfig
from rankwright.evaluation.report import format_table, write_json
from rankwright.evaluation.significance import format_comparison
from rankwright.inference.reranker import Reranker
from rankwright.models.card import save_fusion
from rankwright.recipe.candidates import FirstStage, add_dense, fusion_components, with_gains
from rankwright.recipe.config import FusionSearchConfig, RecipeConfig  # noqa: F401 (FusionSearchConfig: re-exported)
from rankwright.recipe.heldout import evaluate_heldout, other_reranker_row, system_runs
from rankwright.recipe.phases import PhaseInputs, WarmupChoice, supervised, warm_up
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
    choice: WarmupChoice | None  # with warmup.choose: both supervised runs and which is kept


def _store_fusion(model_dir: str, selection: Selection, fitted_on: str) -> None:
    """Write the selected fusion into the model folder, so ``rerank`` and ``Reranker.rank``
    apply it; a reranker selected alone needs none."""
    if not selection.uses_reranker or selection.chosen == "reranker alone":
        return
    save_fusion(model_dir, {**selection.fusion, "fitted_on": fitted_on})


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


def train_reranker(config: RecipeConfig, inputs: PhaseInputs, has_teacher: bool, clock: Clock) -> Trained:
    """The warm-up (when enabled and there is a teacher), then the supervised phase; with
    ``warmup.choose``, the supervised phase from the base encoder too, keeping the run
    with the higher validation nDCG@10."""
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
    if warm is None or not config.warmup.choose:
        return Trained(warm, trained, None)
    cold = supervised(inputs, config.model.name, config.loss, out / "reranker_without_warmup")
    clock.lap("supervised_without_warmup")
    choice = WarmupChoice(trained, cold)
    log.info("%s", choice.message())
    return Trained(warm, choice.kept, choice)


def select_system(config: RecipeConfig, prep: Prepared, val_scores: np.ndarray, model_dir: str) -> Selection:
    """Choose on the validation queries; a chosen fusion goes into the model folder."""
    scheme = prep.loaded.scheme
    selection = select(
        prep.ranked["val"],
        fusion_components(prep.ranked["val"], val_scores),
        qrels_of(prep.parts["val"], scheme),
        scheme.relevant_gain,
        prep.first.name,
        methods=config.fusion.methods,
        grid=config.fusion.grid,
        dense_model=config.dense.model if prep.encoder is not None else None,
    )
    source = config.data.path or config.data.corpus
    _store_fusion(model_dir, selection, f"{source} (val, {prep.counts['val']} queries), first stage {prep.first.name}")
    return selection


def main(config: RecipeConfig) -> RecipeResult:
    config.check()
    clock = Clock()
    out = Path(config.output_dir)
    prep = prepare(config)
    scheme, ranked = prep.loaded.scheme, prep.ranked
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
    trained = train_reranker(config, inputs, prep.encoder is not None, clock)
    model_dir = trained.kept.model_dir

    def scores_of(reranker: Reranker, frame: pd.DataFrame) -> np.ndarray:
        queries, docs = frame[QUERY].tolist(), frame[DOC].tolist()
        return reranker.score(queries, docs, batch_size=config.batch_size, progress=config.progress, fused=False)

    kept = Reranker.from_pretrained(model_dir)
    scores = {name: scores_of(kept, frame) for name, frame in ranked.items()}
    other = None
    if trained.choice is not None:  # the reranker not kept, on test only: the warm-up ablation
        not_kept = Reranker.from_pretrained(trained.choice.other.model_dir)
        other = (other_reranker_row(trained.choice.kept_warmup), scores_of(not_kept, ranked["test"]))
    selection = select_system(config, prep, scores["val"], model_dir)
    clock.lap("selection")

    over_corpus = prep.first.over_corpus
    metrics = config.metrics if over_corpus else replace(config.metrics, recall_at=[])
    compare_config = CompareConfig(
        data=config.data, labels=config.labels, split=config.split, subset="test", metrics=metrics, output_dir=str(out)
    )
    counts = {k: v for k, v in prep.counts.items() if k != "train_available"}
    test_data = LoadedData(prep.loaded.full, prep.parts["test"], scheme, counts)
    runs = system_runs(ranked["test"], scores["test"], selection, prep.first.name, other)
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
        "supervised": {"model": model_dir, **_phase_summary(trained.kept)},
        "warmup_choice": None if trained.choice is None else _choice_summary(trained.choice),
        "selection": {
            "chosen": selection.chosen,
            "uses_reranker": selection.uses_reranker,
            "validation": selection.validation,
            "fusion": selection.fusion,
            "messages": selection.messages,
            "candidates": selection.table.to_dict(orient="records"),
        },
        "test": {"ranking": comparison.summaries, "paired_tests": tests},
        "config": asdict(config),
        "seconds": clock.seconds,
    }
    selection.table.to_csv(out / "selection.csv", index=False)
    paths = {"recipe": str(out / "recipe.json"), "model": model_dir, "selection": str(out / "selection.csv")}
    paths |= comparison.paths
    write_json(summary, Path(paths["recipe"]))
    messages = ([trained.choice.message()] if trained.choice is not None else []) + selection.messages
    return RecipeResult(table, messages, text, selection, summary, paths)


def _phase_summary(result) -> dict[str, Any]:
    m = result.metrics
    keys = ("train_runtime_s", "global_steps", "pairs_per_second", "train_loss", "best_validation", "best_step")
    return {**{k: m.get(k) for k in keys}, "stopped_early": m.get("early_stopping"), "output_dir": result.output_dir}


def _choice_summary(choice: WarmupChoice) -> dict[str, Any]:
    other = choice.other
    return {**choice.to_dict(), "not_kept": {"model": other.model_dir, **_phase_summary(other)}}
