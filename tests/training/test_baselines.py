"""The end of ``train``: the best model against random order and BM25 on the validation
queries (paired tests, a WARNING when below), and the model cards of best/ and final/
with their own validation metrics and the data actually trained on."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from rankwright import cli
from rankwright.data.readers import DataConfig, read_relevance
from rankwright.data.records import LABEL
from rankwright.evaluation.ranking import RankingConfig
from rankwright.training.baselines import check_against_baselines, pair_documents
from rankwright.training.result import TrainResult
from rankwright.training.trainer import SaveBestCallback, ValidationSet


def _validation(path: Path) -> tuple[ValidationSet, dict[str, str]]:
    data = read_relevance(DataConfig(path=str(path)))
    gains = data.pairs[LABEL].to_numpy(dtype=int)  # graded labels 2, 1, 0 are the gains
    return ValidationSet(data.pairs, gains, 1, RankingConfig()), pair_documents(data)


def _evaluate(saver: SaveBestCallback, validation: ValidationSet, scores: np.ndarray, step: int) -> None:
    """What the Trainer does at an evaluation: the metrics, then the callbacks."""
    metrics = {f"eval_{k}": v for k, v in validation.score_metrics(scores).items()}
    state = SimpleNamespace(global_step=step, epoch=1.0, is_world_process_zero=True)
    saver.on_evaluate(None, state, None, model=None, metrics=metrics)


def test_a_best_model_below_random_and_bm25_is_warned_about_with_p_values(write_pointwise, tmp_path):
    validation, documents = _validation(write_pointwise(tmp_path / "val.jsonl", n_queries=12))
    saved = []
    saver = SaveBestCallback(lambda model, **kw: saved.append(kw), "ndcg@10", validation=validation)
    gains = validation.qrels["gain"].to_numpy(dtype=float)
    _evaluate(saver, validation, -gains, step=5)  # the relevant documents last: below random order
    assert saved[0]["metrics"]["eval_ndcg@10"] == saver.best and "eval_map" in saved[0]["metrics"]
    assert len(saver.best_per_query) == 12
    check = check_against_baselines(saver, validation, documents)
    assert [c["baseline"] for c in check["comparisons"]] == ["random", "bm25"]
    assert all(c["losses"] == 12 and c["randomisation_p"] < 0.01 for c in check["comparisons"])
    assert len(check["warnings"]) == 2
    assert check["warnings"][0].startswith("WARNING: the best model's ndcg@10 (")
    assert "below random order's" in check["warnings"][0] and "below BM25's" in check["warnings"][1]
    assert all("on the 12 validation queries" in w and "paired t-test p" in w for w in check["warnings"])
    out = io.StringIO()
    metrics = {"train_runtime_s": 1.0, "pairs_per_second": 2.0, "baselines": check}
    cli._report_train(out, TrainResult("o", "o/best", "o/final", metrics | {"best_validation": {}}))
    printed = out.getvalue().splitlines()
    assert f"validation against baselines: {check['line']}" in printed
    assert [line for line in printed if line.startswith("WARNING:")] == check["warnings"]


def test_the_best_evaluation_is_kept_and_survives_a_resume(write_pointwise, tmp_path):
    validation, documents = _validation(write_pointwise(tmp_path / "val.jsonl", n_queries=12))
    saver = SaveBestCallback(lambda model, **kw: None, "ndcg@10", validation=validation)
    gains = validation.qrels["gain"].to_numpy(dtype=float)
    _evaluate(saver, validation, gains, step=5)  # perfect
    best = dict(saver.best_per_query)
    _evaluate(saver, validation, -gains, step=10)  # worse: not the best, its values are not kept
    assert saver.best_per_query == best and set(best.values()) == {1.0}
    again = SaveBestCallback(lambda model, **kw: None, "ndcg@10", validation=validation)
    again.restore({"SaveBestCallback": json.loads(json.dumps(saver.state()))})
    check = check_against_baselines(again, validation, documents)
    assert check["warnings"] == [] and check["comparisons"][0]["mean_a"] == 1.0
    fresh = SaveBestCallback(lambda model, **kw: None, "ndcg@10", validation=validation)
    assert "no validation evaluation ran" in check_against_baselines(fresh, validation, documents)["skipped"]
    assert check_against_baselines(fresh, None, documents) is None


def test_train_cards_show_each_folders_validation_and_the_pairs_trained_on(
    tmp_path, tiny_bert, write_pointwise, capsys
):
    data = write_pointwise(tmp_path / "pairs.jsonl")  # 30 queries x 5 pairs
    out = tmp_path / "out"
    argv = ["train", "--data.path", str(data), "--labels.scheme", "graded", "--labels.relevant_gain", "2"]
    argv += ["--split.ratios", "0.7,0.3,0.0", "--model.name", tiny_bert, "--model.max_length", "32"]
    argv += ["--training.epochs", "1", "--training.batch_size", "8", "--training.learning_rate", "1e-3"]
    argv += ["--sampling.max_pairs", "24", "--output_dir", str(out), "--progress", "false"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["baselines"]["line"].startswith("ndcg@10 on the 9 validation queries: the best model ")
    assert f"validation against baselines: {summary['baselines']['line']}" in printed
    assert [c["baseline"] for c in summary["baselines"]["comparisons"]] == ["random", "bm25"]

    best = json.loads((out / "best" / "rankwright.json").read_text())["training"]
    queries = best["train_queries"]
    assert best["train_pairs"] == 24 and queries <= 21
    assert (best["train_split_queries"], best["train_split_pairs"]) == (21, 105)
    trained_on = f"({queries} queries, 24 judged pairs trained on; the training split has 21 queries and 105 pairs"
    card = (out / "best" / "README.md").read_text()
    assert trained_on in card and "sampling.max_pairs 24" in card
    assert f"## Validation (best evaluation, step {best['best']['step']})" in card
    assert f"| ndcg@10 | {best['best']['eval_ndcg@10']:.4f} |" in card and "| map | " in card
    assert "No validation metrics were recorded" not in card
    final_card = (out / "final" / "README.md").read_text()
    assert trained_on in final_card and "## Validation (end of training)" in final_card
    assert f"| ndcg@10 | {summary['final_validation']['eval_ndcg@10']:.4f} |" in final_card
    assert "best validation checkpoint" not in final_card  # best/'s record stays in best/
