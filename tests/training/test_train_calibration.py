"""training.calibration: after training, final/ and best/ each get a calibration fitted on
their own validation scores, the summary reports ECE before/after on the test queries,
and a run that cannot calibrate fails before training."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rankwright.cli import _report
from rankwright.config import from_dict
from rankwright.data.labels import build_scheme
from rankwright.data.readers import DataConfig, read_relevance
from rankwright.data.records import DOC, LABEL, QUERY
from rankwright.data.split import SplitConfig, split_data
from rankwright.evaluation.calibration import apply_calibration, expected_calibration_error, fit_calibration
from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata
from rankwright.training.config import TrainConfig
from rankwright.training.run import TrainingSetupError, train

RATIOS = [0.6, 0.2, 0.2]


def _split(data: Path) -> tuple[dict, object]:
    loaded = read_relevance(DataConfig(path=str(data)))
    scheme = build_scheme(from_dict(TrainConfig, {"labels": {"scheme": "graded", "relevant_gain": 2}}).labels, loaded)
    return split_data(loaded, SplitConfig(ratios=RATIOS, seed=1)), scheme


def _pairs_with_a_richer_validation_split(path: Path, write_pointwise) -> Path:
    """The shared pointwise data, but validation queries have two relevant documents of
    five (test: one): a calibration fitted on val, not on test, predicts about 0.4
    where test has 0.2, so ECE after is far from 0 and says which split it came from
    (the tiny model's scores barely vary, so the fit is mostly the share relevant)."""
    write_pointwise(path)
    parts, _ = _split(path)
    val_queries = set(parts["val"].pairs["query_id"])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        if row["query_id"] in val_queries and row["label"] == 1:
            row["label"] = 2
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def calibration_config(tiny_train_config):
    """The tiny training configuration with Platt calibration and a test split."""

    def make(tmp: Path, data: Path, model: str, training=None, **sections) -> TrainConfig:
        split = {} if "split" in sections else {"split.ratios": RATIOS}
        return tiny_train_config(tmp, data, model, {"calibration": "platt", **(training or {})}, **split, **sections)

    return make


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, tiny_bert, write_pointwise, calibration_config):
    tmp = tmp_path_factory.mktemp("calibrated")
    data = _pairs_with_a_richer_validation_split(tmp / "pairs.jsonl", write_pointwise)
    return data, train(calibration_config(tmp, data, tiny_bert))


def _raw(reranker: Reranker, part) -> np.ndarray:
    return reranker.logits(part.pairs[QUERY].tolist(), part.pairs[DOC].tolist())


def test_final_gets_a_platt_calibration_that_calibrated_scores_apply(calibrated):
    _, result = calibrated
    meta = ModelMetadata.load(result.final_dir)
    calibration = meta.calibration
    assert calibration is not None and calibration["method"] == "platt"
    assert math.isfinite(calibration["a"]) and math.isfinite(calibration["b"]) and calibration["a"] != 0
    assert "(val, 30 pairs)" in calibration["fitted_on"]  # 6 validation queries x 5 documents
    reranker = Reranker.from_pretrained(result.final_dir)
    queries = ["drill number 0", "sofa number 1", "lamp number 2", "lamp number 2"]
    docs = ["drill model 0", "drill model 0", "lamp model 0", "kettle model 3"]
    probs = reranker.score(queries, docs, calibrated=True)
    assert np.all((probs >= 0) & (probs <= 1))
    assert np.allclose(probs, apply_calibration(calibration, reranker.logits(queries, docs)), rtol=0, atol=1e-12)
    assert len(set(np.round(probs, 8))) > 1  # a real map of the score, not a constant


def test_calibration_is_fitted_on_each_folders_own_validation_scores(calibrated):
    data, result = calibrated
    parts, scheme = _split(data)
    val = parts["val"]
    relevant = scheme.relevant(val.pairs[LABEL])
    folders = [result.final_dir] + ([result.best_dir] if result.best_dir else [])
    assert result.best_dir is not None  # validation each epoch: best/ exists
    for folder in folders:
        stored = ModelMetadata.load(folder).calibration
        refit = fit_calibration(_raw(Reranker.from_pretrained(folder), val), relevant, "platt")
        assert stored["a"] == pytest.approx(refit["a"], rel=1e-3, abs=1e-4)
        assert stored["b"] == pytest.approx(refit["b"], rel=1e-3, abs=1e-4)


def test_summary_and_metadata_report_ece_on_the_test_queries(calibrated):
    data, result = calibrated
    summary = result.metrics["calibration"]
    assert summary["method"] == "platt" and summary["fitted_on"] == "val (30 pairs)"
    assert summary["val_pairs"] == 30 and summary["test_pairs"] == 30
    # The numbers are the ECE of the final model's test scores, recomputed here.
    parts, scheme = _split(data)
    test = parts["test"]
    relevant = scheme.relevant(test.pairs[LABEL])
    raw = _raw(Reranker.from_pretrained(result.final_dir), test)
    calibration = ModelMetadata.load(result.final_dir).calibration
    before = expected_calibration_error(1 / (1 + np.exp(-raw.astype(np.float64))), relevant)
    after = expected_calibration_error(apply_calibration(calibration, raw), relevant)
    assert summary["ece_before"] == pytest.approx(before, abs=1e-4)
    assert summary["ece_after"] == pytest.approx(after, abs=1e-4)
    assert summary["ece_after"] == pytest.approx(0.2, abs=0.05)  # fitted on val (0.4 relevant), test has 0.2
    assert summary["best"]["val_pairs"] == 30 and summary["best"]["ece_after"] is not None
    # The same record in final/'s metadata and in train_summary.json.
    stored = ModelMetadata.load(result.final_dir).training["result"]["calibration"]
    assert stored == summary
    on_disk = json.loads((Path(result.output_dir) / "train_summary.json").read_text())
    assert on_disk["calibration"]["ece_before"] == pytest.approx(summary["ece_before"])


def test_train_report_prints_the_calibration_line(calibrated, capsys):
    _, result = calibrated
    _report("train", result)
    printed = capsys.readouterr().out
    c = result.metrics["calibration"]
    expected = f"calibration: platt on val (30 pairs); ECE on test (30 pairs): {c['ece_before']:.4f} -> "
    assert expected + f"{c['ece_after']:.4f}\n" in printed
    assert "best model calibration: platt on val (30 pairs); ECE on test (30 pairs)" in printed


def test_calibration_without_validation_queries_fails_before_training(
    tmp_path, tiny_bert, write_pointwise, calibration_config
):
    data = write_pointwise(tmp_path / "pairs.jsonl")
    cfg = calibration_config(tmp_path, data, tiny_bert, split={"ratios": [0.8, 0.0, 0.2]})
    with pytest.raises(ValueError, match="fitted on validation queries, but there are none"):
        train(cfg)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"training": {"calibration": "beta"}}, "must be one of"),
        ({"labels.relevant_gain": 3}, "all 30 validation pairs are non-relevant"),
    ],
)
def test_unusable_calibration_settings_fail_before_training(
    tmp_path, tiny_bert, write_pointwise, sections, message, calibration_config
):
    data = write_pointwise(tmp_path / "pairs.jsonl")
    with pytest.raises(TrainingSetupError, match=message):
        train(calibration_config(tmp_path, data, tiny_bert, **sections))
    assert not (tmp_path / "out").exists()


def test_calibration_none_trains_without_one(tmp_path, tiny_bert, write_pointwise, calibration_config):
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=10)
    cfg = calibration_config(
        tmp_path, data, tiny_bert, training={"calibration": "none", "epochs": 1}, split={"ratios": [1, 0, 0]}
    )
    result = train(cfg)
    assert "calibration" not in result.metrics and ModelMetadata.load(result.final_dir).calibration is None
