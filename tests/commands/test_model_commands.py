"""rerank / evaluate --scorer model / export through the CLI, on a tiny trained model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rankwright.cli import main as cli
from rankwright.config import from_dict
from rankwright.data.readers import read_run
from rankwright.inference.reranker import Reranker
from rankwright.training.config import TrainConfig
from rankwright.training.run import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert, write_pointwise):
    tmp = tmp_path_factory.mktemp("trained")
    data = write_pointwise(tmp / "pairs.jsonl")
    cfg = from_dict(
        TrainConfig,
        {
            "data": {"path": str(data)},
            "labels": {"scheme": "graded", "relevant_gain": 2},
            "split": {"ratios": [0.8, 0.2, 0.0], "seed": 1},
            "model": {"name": tiny_bert, "max_length": 32},
            "training": {"epochs": 1, "batch_size": 8, "learning_rate": 1e-3, "save_steps": 1000},
            "output_dir": str(tmp / "out"),
            "progress": False,
        },
    )
    return data, train(cfg).final_dir


def test_evaluate_with_a_model_scores_every_judged_pair(trained, tmp_path):
    data, model = trained
    out = tmp_path / "eval"
    rc = cli(
        [
            "evaluate",
            "--data.path",
            str(data),
            "--labels.scheme",
            "graded",
            "--labels.relevant_gain",
            "2",
            "--scorer",
            "model",
            "--model",
            model,
            "--output_dir",
            str(out),
            "--progress",
            "false",
        ]
    )
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    system = metrics["system"]
    assert metrics["ranking"][system]["all"]["n_queries"] == 30
    pred = pd.read_parquet(out / "predictions.parquet")
    assert pred["score"].notna().all() and len(pred) == 150
    pairs = pd.read_json(data, lines=True)
    expected = Reranker.from_pretrained(model).score(pairs["query"].tolist(), pairs["doc"].tolist())
    merged = pairs.assign(expected=expected).merge(pred[["query_id", "doc_id", "score"]], on=["query_id", "doc_id"])
    assert np.abs(merged["expected"] - merged["score"]).max() <= 1e-5


def test_evaluate_with_a_model_and_no_scorer_uses_the_model(trained, tmp_path, caplog):
    import logging

    data, model = trained
    common = ["evaluate", "--data.path", str(data), "--labels.scheme", "graded", "--labels.relevant_gain", "2"]
    common += ["--progress", "false", "--report", "false"]
    out = tmp_path / "auto"
    assert cli([*common, "--model", model, "--output_dir", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["system"] != "BM25" and metrics["model"] == model
    # both a run and a model without --scorer: ambiguous
    run = tmp_path / "run.trec"
    run.write_text("q1 Q0 d1 1 1.0 x\n")
    with caplog.at_level(logging.WARNING, logger="rankwright"):
        assert cli([*common, "--model", model, "--run", str(run), "--output_dir", str(tmp_path / "both")]) == 2
        assert "say which to evaluate with --scorer run or --scorer model" in caplog.text
        # a model the chosen scorer does not use is said
        assert cli([*common, "--scorer", "bm25", "--model", model, "--output_dir", str(tmp_path / "bm25")]) == 0
    assert f"scorer bm25: --model {model} not used (choose it with --scorer)" in caplog.text


def test_rerank_a_trec_run_keeps_only_its_documents(trained, tmp_path):
    data, model = trained
    run = tmp_path / "first.trec"
    lines = [f"q{q} Q0 q{q}d{j} {j + 1} {10 - j} bm25\n" for q in range(3) for j in range(4)]
    lines.append("q0 Q0 unknown-doc 5 1 bm25\n")
    run.write_text("".join(lines))
    out = tmp_path / "reranked.trec"
    rc = cli(
        [
            "rerank",
            "--model",
            model,
            "--data.path",
            str(data),
            "--run",
            str(run),
            "--top_k",
            "3",
            "--output",
            str(out),
            "--progress",
            "false",
        ]
    )
    assert rc == 0
    reranked = read_run(out)
    assert reranked.groupby("query_id").size().tolist() == [3, 3, 3]  # top 3 of each, unknown doc not in top 3
    assert set(reranked["doc_id"]) <= {f"q{q}d{j}" for q in range(3) for j in range(3)}
    first = reranked[reranked["query_id"] == "q1"].sort_values("rank")
    assert first["score"].is_monotonic_decreasing


def test_rerank_without_a_model_is_a_clear_error(trained, caplog):
    data, _ = trained
    assert cli(["rerank", "--data.path", str(data)]) == 2
    assert "rerank needs model=<folder>" in caplog.text


def test_rerank_reports_the_rows_its_data_dropped(trained, tmp_path, caplog):
    import logging

    _, model = trained
    data = tmp_path / "pairs.csv"
    data.write_text("query_id,query,doc_id,doc,label\nA,usb cable,d1,braided cable,1\nA,usb cable,d2,,0\n")
    with caplog.at_level(logging.INFO, logger="rankwright"):
        rc = cli(["rerank", "--model", model, "--data.path", str(data), "--output", str(tmp_path / "r.trec")])
    assert rc == 0 and len(read_run(tmp_path / "r.trec")) == 1
    assert f"{data}: 2 rows in = 1 used + 1 dropped (empty document: 1)" in caplog.text


def test_teacher_score_writes_flag_jsonl_that_distillation_trains_on(trained, tmp_path):
    from rankwright.data.readers import DataConfig, read_relevance

    data, model = trained
    out = tmp_path / "teacher.jsonl"
    rc = cli(
        [
            "teacher-score",
            "--model",
            model,
            "--data.path",
            str(data),
            "--labels.scheme",
            "graded",
            "--labels.relevant_gain",
            "2",
            "--output",
            str(out),
            "--progress",
            "false",
        ]
    )
    assert rc == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 30 and all(len(r["pos"]) == 1 and len(r["neg"]) == 4 for r in records)
    first = records[0]
    expected = Reranker.from_pretrained(model).logits([first["query"]] * 5, first["pos"] + first["neg"])
    assert np.allclose(first["pos_scores"] + first["neg_scores"], expected, atol=1e-5)
    # The written file reads back with the teacher scores in the score column.
    back = read_relevance(DataConfig(path=str(out)))
    assert back.format == "grouped:flag" and back.pairs["score"].notna().all() and len(back.pairs) == 150
    cfg = from_dict(
        TrainConfig,
        {
            "data": {"path": str(out)},
            "labels": {"scheme": "binary", "threshold": 1},
            "model": {"name": model, "max_length": 32},
            "loss": {"name": "margin_mse"},
            "sampling": {"negatives_per_group": 4},
            "training": {"epochs": 1, "batch_size": 8},
            "output_dir": str(tmp_path / "student"),
            "progress": False,
        },
    )
    assert train(cfg).metrics["global_steps"] > 0


def test_calibrate_writes_a_calibration_that_score_applies(trained, tmp_path, capsys):
    import shutil

    data, model = trained
    folder = tmp_path / "model"
    shutil.copytree(model, folder)
    args = ["calibrate", "--model", str(folder), "--data.path", str(data), "--progress", "false"]
    args += ["--labels.scheme", "graded", "--labels.relevant_gain", "2", "--split.ratios", "0.4,0.3,0.3"]
    assert cli([*args, "--method", "temperature"]) == 0
    printed = capsys.readouterr().out
    assert "calibration: temperature fitted on val" in printed and "ECE on test" in printed
    calibration = json.loads((folder / "rankwright.json").read_text())["calibration"]
    assert calibration["method"] == "temperature" and calibration["t"] > 0
    reranker = Reranker.from_pretrained(folder)
    raw = reranker.logits(["drill number 0"], ["drill model 0"])
    calibrated = reranker.score(["drill number 0"], ["drill model 0"], calibrated=True)
    assert calibrated[0] == pytest.approx(1 / (1 + np.exp(-raw[0] / calibration["t"])))
    with pytest.raises(ValueError, match="no calibration"):
        Reranker.from_pretrained(model).score(["q"], ["d"], calibrated=True)
