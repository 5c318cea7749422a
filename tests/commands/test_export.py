"""``rankwright export --onnx``: the folder (weights, tokenizer, ONNX files, metadata),
the comparison with torch on evaluation data, and the refusals."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest
import torch
import transformers

from rankwright.cli import main as cli
from rankwright.data.split import SplitConfig, split_data
from rankwright.evaluation.ranking import GAIN, evaluate_run
from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata

LABELS = ["--labels.scheme", "graded", "--labels.relevant_gain", "2"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_bert) -> str:
    """A tiny one-output cross-encoder with rankwright.json (max_length 32), weights
    drawn wide enough (initializer_range 0.2) that pairs get different scores."""
    folder = tmp_path_factory.mktemp("export-src")
    config = transformers.AutoConfig.from_pretrained(tiny_bert, num_labels=1, initializer_range=0.2)
    torch.manual_seed(5)
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    ModelMetadata(max_length=32, base_model=tiny_bert).save(folder)
    return str(folder)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, model_dir, write_pointwise):
    """One export with int8 and evaluation on the test queries of a 60/20/20 split."""
    tmp = tmp_path_factory.mktemp("export")
    data = write_pointwise(tmp / "pairs.jsonl", n_queries=40)
    out = tmp / "out"
    argv = ["export", "--model", model_dir, "--output", str(out), "--onnx", "true", "--int8", "true"]
    argv += ["--data.path", str(data), *LABELS, "--split.ratios", "0.6,0.2,0.2", "--subset", "test"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = cli(argv)
    return data, out, rc, printed.getvalue()


def test_report_compares_each_onnx_file_with_torch(evaluated):
    data, out, rc, printed = evaluated
    assert rc == 0
    report = json.loads((out / "export_report.json").read_text())
    assert report["data"]["subset"] == "test" and report["data"]["queries"] == 8 and report["data"]["pairs"] == 40
    keys = {"ndcg@10", "map", "ndcg@10_diff", "map_diff", "pearson", "spearman", "max_abs_diff", "pairs_per_s"}
    for backend, file in (("onnx", "onnx/model.onnx"), ("onnx-int8", "onnx/model_int8.onnx")):
        assert keys <= set(report[backend]) and report[backend]["file"] == file and report[backend]["pairs_per_s"] > 0
    fp32 = report["onnx"]
    assert fp32["max_abs_diff"] <= 1e-5 and fp32["pearson"] > 0.99999
    assert fp32["ndcg@10_diff"] == 0 and fp32["map_diff"] == 0
    assert report["onnx-int8"]["max_abs_diff"] > 1e-4 and report["onnx-int8"]["spearman"] > 0.8
    # the torch row is the model's own nDCG@10 on those 8 test queries, computed independently here
    pairs = pd.read_json(data, lines=True).astype({"query_id": str, "doc_id": str})
    test_ids = set(split_data_ids(data))
    test = pairs[pairs["query_id"].isin(test_ids)]
    scores = Reranker.from_pretrained(str(out), device="cpu").score(test["query"].tolist(), test["doc"].tolist())
    run = test[["query_id", "doc_id"]].assign(score=scores)
    qrels = test[["query_id", "doc_id"]].assign(**{GAIN: test["label"]})
    expected = evaluate_run(run, qrels, 2).mean("all")
    assert report["torch"]["ndcg@10"] == pytest.approx(expected["ndcg@10"], abs=1e-9)
    assert report["torch"]["map"] == pytest.approx(expected["map"], abs=1e-9)
    assert "onnx-int8" in printed and "nDCG@10" in printed and f"{report['torch']['ndcg@10']:.4f}" in printed


def split_data_ids(data) -> list[str]:
    from rankwright.data.readers import DataConfig, read_relevance

    parts = split_data(read_relevance(DataConfig(path=str(data))), SplitConfig(ratios=[0.6, 0.2, 0.2]))
    return parts["test"].pairs["query_id"].unique().tolist()


def test_exported_folder_records_the_export_and_loads_with_every_backend(evaluated, model_dir):
    _, out, _, _ = evaluated
    metadata = ModelMetadata.load(out)
    assert metadata.max_length == 32
    onnx = metadata.export["onnx"]
    assert onnx["files"] == {"onnx": "onnx/model.onnx", "onnx-int8": "onnx/model_int8.onnx"}
    assert onnx["opset"] == 17 and onnx["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert onnx["int8"]["per_channel"] is True and onnx["int8"]["weight_type"] == "qint8"
    assert onnx["check"]["onnx_max_abs_diff"] <= 1e-5 and onnx["report"] == "export_report.json"
    queries, docs = ["drill"] * 3, ["cordless drill kit", "sofa", "a long garden hose with fittings " * 4]
    source = Reranker.from_pretrained(model_dir, device="cpu").score(queries, docs)
    assert np.abs(Reranker.from_pretrained(str(out), device="cpu").score(queries, docs) - source).max() == 0
    assert np.abs(Reranker.from_pretrained(str(out), backend="onnx").score(queries, docs) - source).max() <= 1e-5


def test_without_data_the_check_pairs_still_guard_the_export(tmp_path, model_dir, capsys):
    out = tmp_path / "plain"
    assert cli(["export", "--model", model_dir, "--output", str(out), "--onnx", "true"]) == 0
    assert not (out / "export_report.json").exists() and not (out / "onnx" / "model_int8.onnx").exists()
    check = ModelMetadata.load(out).export["onnx"]["check"]
    assert set(check) == {"onnx_max_abs_diff"} and check["onnx_max_abs_diff"] <= 1e-5
    printed = capsys.readouterr().out
    assert f"onnx: {out}/onnx/model.onnx (opset 17" in printed and "pairs/s" not in printed


def test_refusals(tmp_path, model_dir, tiny_llama, write_pointwise, caplog):
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=3)
    assert cli(["export", "--model", tiny_llama, "--output", str(tmp_path / "g"), "--onnx", "true"]) == 2
    assert "ONNX export is for cross-encoders" in caplog.text
    assert not (tmp_path / "g").exists()
    assert cli(["export", "--model", model_dir, "--output", str(tmp_path / "x"), "--data.path", str(data)]) == 2
    assert "add --onnx true" in caplog.text
