"""``rankwright recipe``: judged queries in, the best ranking system the data supports
out, measured on held-out test queries, in one command.

1. split the queries into train/val/test (by query);
2. first stage: BM25 (or dense) top k from the corpus; without a corpus, BM25 over
   each query's given candidates;
3. zero-shot dense rerank: the packaged MiniLM sentence-embedding model's cosine;
4. training pairs: judged positives and mined negatives (the first stage's ranking);
5. warm-up on the dense teacher's scores, then supervised training with the best
   checkpoint by validation nDCG@10 and early stopping;
6. selection on the validation queries only: the fine-tuned reranker, the first stage,
   the dense rerank, or a fusion of them, whichever scores best; a plain warning when
   the reranker is below the first stage;
7. every system and the selected one on the test queries: one table, paired tests,
   TREC runs, ``compare.html``, ``recipe.json``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rankwright.commands.common import DataSelection, LoadedData, load_data
from rankwright.commands.compare import CompareConfig, Comparison, compare_runs
from rankwright.data.readers import write_run
from rankwright.data.records import DOC, DOC_ID, QUERY, QUERY_ID, SCORE, RelevanceData
from rankwright.data.split import SplitConfig, split_data
from rankwright.evaluation.evaluate import qrels_of
from rankwright.evaluation.ranking import GAIN, RankingConfig
from rankwright.evaluation.report import format_table, write_json
from rankwright.evaluation.significance import format_comparison, paired_comparison
from rankwright.inference.fusion import METHODS, fuse
from rankwright.inference.reranker import Reranker
from rankwright.mining.negatives import MiningConfig
from rankwright.models.card import write_model_card
from rankwright.models.metadata import ModelMetadata
from rankwright.recipe.candidates import FirstStage, add_dense, components, with_gains
from rankwright.recipe.phases import PhaseInputs, WarmupConfig, supervised, warm_up
from rankwright.recipe.selection import Selection, select
from rankwright.recipe.training_data import given_pairs, mined_pairs, validation_pairs, write_pairs
from rankwright.retrieval import RetrieverConfig
from rankwright.retrieval.dense import DenseConfig, DenseEncoder
from rankwright.training.config import LoraConfig, LossConfig, ModelConfig, TrainingConfig
from rankwright.training.sampling import SamplingConfig

log = logging.getLogger(__name__)

DENSE_ROW = "dense rerank (zero-shot)"
RERANKER_ROW = "fine-tuned reranker"


@dataclass
class FusionSearchConfig:
    methods: list[str] = field(default_factory=lambda: list(METHODS), metadata={"help": "minmax|zscore|rrf"})
    grid: int = field(default=10, metadata={"help": "weight steps (10: weights 0, 0.1, ..., 1)"})


@dataclass
class RecipeConfig(DataSelection):
    split: SplitConfig = field(default_factory=lambda: SplitConfig(ratios=[0.6, 0.2, 0.2]))
    train_queries: int | None = field(
        default=None, metadata={"help": "train on at most this many of the training queries (seeded sample)"}
    )
    retriever: RetrieverConfig = field(default_factory=RetrieverConfig, metadata={"help": "the first stage"})
    dense: DenseConfig = field(
        default_factory=DenseConfig, metadata={"help": "zero-shot dense rerank and teacher (model: none to skip)"}
    )
    mining: MiningConfig = field(default_factory=lambda: MiningConfig(ranks=[1, 100]))
    model: ModelConfig = field(default_factory=lambda: ModelConfig(max_length=128))
    loss: LossConfig = field(default_factory=LossConfig, metadata={"help": "supervised phase loss"})
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(
            epochs=3, batch_size=16, learning_rate=5e-5, early_stopping_patience=1, save_steps=10**9, logging_steps=20
        ),
        metadata={"help": "supervised phase"},
    )
    validation_depth: int | None = field(
        default=30,
        metadata={
            "help": "validation during training reranks each validation query's first-stage top N (cheaper per "
            "epoch); the final selection uses all retriever.top_k"
        },
    )
    warmup: WarmupConfig = field(default_factory=WarmupConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    fusion: FusionSearchConfig = field(default_factory=FusionSearchConfig)
    metrics: RankingConfig = field(
        default_factory=lambda: RankingConfig(ndcg_at=[10], precision_at=[], recall_at=[10, 100]),
        metadata={"help": "test metrics (Recall@k only where there is a corpus)"},
    )
    batch_size: int = field(default=64, metadata={"help": "pairs per batch when scoring"})
    output_dir: str = field(default="runs/recipe", metadata={"help": "data, models, runs, compare.html, recipe.json"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})

    def check(self) -> None:
        if self.subset != "all":
            raise ValueError(f"recipe uses every split (train, val and test); subset must be all, got {self.subset!r}")
        ratios = self.split.ratios
        if len(ratios) != 3 or min(ratios) <= 0:
            raise ValueError(
                f"recipe needs train, validation and test queries: split.ratios must be three shares > 0, got {ratios}"
            )
        if self.train_queries is not None and self.train_queries < 1:
            raise ValueError(f"train_queries must be at least 1, got {self.train_queries}")

    @property
    def dense_enabled(self) -> bool:
        return bool(self.dense.model) and self.dense.model.lower() != "none"


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


def _store_fusion(model_dir: str, selection: Selection, fitted_on: str) -> None:
    """Write the selected fusion into the model folder, so ``rerank`` and ``Reranker.rank``
    apply it; a reranker selected alone needs none."""
    if not selection.uses_reranker or selection.chosen == "reranker alone":
        return
    metadata = ModelMetadata.load(model_dir)
    metadata.fusion = {**selection.fusion, "fitted_on": fitted_on}
    metadata.save(model_dir)
    write_model_card(model_dir, metadata)


def _test_runs(
    test: pd.DataFrame, reranker_scores: np.ndarray, selection: Selection, first_name: str
) -> dict[str, pd.DataFrame]:
    parts = components(test, reranker_scores)
    selected = fuse(parts, test[QUERY_ID].astype(str).tolist(), selection.fusion)
    named = {
        first_name: parts["first_stage"],
        RERANKER_ROW: parts["reranker"],
        f"selected: {selection.chosen}": selected,
    }
    if "dense" in parts:
        named = {first_name: parts["first_stage"], DENSE_ROW: parts["dense"], **named}
    return {name: test[[QUERY_ID, DOC_ID]].assign(**{SCORE: scores}) for name, scores in named.items()}


def _test_comparisons(comparison: Comparison, first_name: str, selected: str) -> list[dict[str, Any]]:
    """The selected system and the reranker against the first stage and the dense rerank,
    and the selected system against the better of those two on test nDCG@10."""
    per_query = {r.name: r.result.per_query for r in comparison.runs}
    baselines = [n for n in (first_name, DENSE_ROW) if n in per_query]
    best = max(baselines, key=lambda n: per_query[n]["ndcg@10"].mean())
    out = []
    for system in (selected, RERANKER_ROW):
        for base in baselines:
            for metric in ("ndcg@10", "map"):
                c = paired_comparison(per_query[system], per_query[base], metric)
                out.append({"system": system, "baseline": base, "best_baseline": base == best, **c})
    return out


def main(config: RecipeConfig) -> RecipeResult:
    config.check()
    clock = Clock()
    out = Path(config.output_dir)
    loaded = load_data(config)
    parts = split_data(loaded.full, config.split)
    scheme = loaded.scheme
    train_part = sample_queries(parts["train"], config.train_queries, config.split.seed)
    counts = {"train": train_part.n_queries, "train_available": parts["train"].n_queries}
    counts |= {name: parts[name].n_queries for name in ("val", "test")}
    log.info("queries: %s", counts)
    clock.lap("load_and_split")

    first = FirstStage.build(config.retriever, loaded.full, progress=config.progress)
    encoder = DenseEncoder(config.dense) if config.dense_enabled else None
    ranked = {}
    for name in ("val", "test"):
        candidates = with_gains(
            first.candidates(parts[name], loaded.full, progress=config.progress), parts[name], scheme
        )
        ranked[name] = add_dense(candidates, encoder, progress=config.progress)
    clock.lap("first_stage_and_dense")

    mining = None
    if first.over_corpus:
        pairs, stats = mined_pairs(first, train_part, scheme, config.mining, progress=config.progress)
        mining = stats.to_dict()
    else:
        pairs = given_pairs(train_part, scheme)
    train_file = write_pairs(pairs, encoder, out / "data" / "train.parquet", progress=config.progress)
    val_file = write_pairs(validation_pairs(ranked["val"], config.validation_depth), None, out / "data" / "val.parquet")
    clock.lap("training_data")

    inputs = PhaseInputs(
        train_file,
        val_file,
        scheme.relevant_gain,
        int(max(pairs["label"].max(), ranked["val"][GAIN].max())),
        config.model,
        config.sampling,
        config.training,
        config.lora,
        RankingConfig(ndcg_at=[10], precision_at=[], recall_at=[]),
        config.progress,
    )
    start_from, warm = config.model.name, None
    if config.warmup.enabled and encoder is None:
        log.warning("warmup: no dense teacher (dense.model none), so no warm-up phase")
    elif config.warmup.enabled:
        warm = warm_up(inputs, config.warmup, out / "warmup")
        start_from = warm.best_dir or warm.final_dir
    clock.lap("warmup")
    trained = supervised(inputs, start_from, config.loss, out / "reranker")
    model_dir = trained.best_dir or trained.final_dir
    clock.lap("supervised")

    reranker = Reranker.from_pretrained(model_dir)
    scores = {
        name: reranker.score(
            frame[QUERY].tolist(),
            frame[DOC].tolist(),
            batch_size=config.batch_size,
            progress=config.progress,
            fused=False,
        )
        for name, frame in ranked.items()
    }
    selection = select(
        ranked["val"],
        components(ranked["val"], scores["val"]),
        qrels_of(parts["val"], scheme),
        scheme.relevant_gain,
        first.name,
        methods=config.fusion.methods,
        grid=config.fusion.grid,
        dense_model=config.dense.model if encoder is not None else None,
    )
    source = config.data.path or config.data.corpus
    _store_fusion(model_dir, selection, f"{source} (val, {counts['val']} queries), first stage {first.name}")
    clock.lap("selection")

    runs = _test_runs(ranked["test"], scores["test"], selection, first.name)
    run_dir = out / "runs"
    run_dir.mkdir(parents=True, exist_ok=True)
    triples = []
    for i, (name, run) in enumerate(runs.items()):
        path = run_dir / f"{i}_{name.split(':')[0].split(' (')[0].replace(' ', '_')}.trec"
        write_run(run, path, tag=f"rankwright-{i}")
        triples.append((name, str(path), run))
    metrics = (
        config.metrics if first.over_corpus else RankingConfig(config.metrics.ndcg_at, config.metrics.precision_at, [])
    )
    compare_config = CompareConfig(
        data=config.data, labels=config.labels, split=config.split, subset="test", metrics=metrics, output_dir=str(out)
    )
    test_data = LoadedData(
        loaded.full, parts["test"], scheme, {k: v for k, v in counts.items() if k != "train_available"}
    )
    comparison = compare_runs(triples, test_data, compare_config)
    selected = triples[-1][0]
    tests = _test_comparisons(comparison, first.name, selected)
    clock.lap("test")

    columns = ["ndcg@10", "map", "mrr", *(f"recall@{k}" for k in metrics.recall_at)]
    table = format_table(comparison.summaries, columns)
    text = "\n".join(format_comparison(c["system"], c["baseline"], c) for c in tests if c["metric"] == "ndcg@10")
    summary: dict[str, Any] = {
        "queries": counts,
        "first_stage": first.describe(),
        "dense": asdict(config.dense) if encoder is not None else None,
        "mining": mining,
        "training_pairs": len(pairs),
        "warmup": None if warm is None else {"model": start_from, **_phase_summary(warm)},
        "supervised": {"model": model_dir, **_phase_summary(trained)},
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
    paths = {"recipe": str(out / "recipe.json"), "model": model_dir, **comparison.paths, "runs": str(run_dir)}
    selection.table.to_csv(out / "selection.csv", index=False)
    paths["selection"] = str(out / "selection.csv")
    write_json(summary, Path(paths["recipe"]))
    return RecipeResult(table, selection.messages, text, selection, summary, paths)


def _phase_summary(result) -> dict[str, Any]:
    m = result.metrics
    keys = ("train_runtime_s", "global_steps", "pairs_per_second", "train_loss", "best_validation", "best_step")
    return {**{k: m.get(k) for k in keys}, "stopped_early": m.get("early_stopping"), "output_dir": result.output_dir}
