"""calibrate_model, the step shared by ``rankwright calibrate`` and ``train``
(training.calibration), and the command on top of it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rankwright.cli import main as cli
from rankwright.config import from_dict
from rankwright.data.labels import LabelConfig, build_scheme
from rankwright.data.readers import DataConfig, read_relevance
from rankwright.data.records import DOC, LABEL, QUERY
from rankwright.data.split import SplitConfig, split_data
from rankwright.evaluation.calibration import apply_calibration, expected_calibration_error, fit_calibration
from rankwright.inference.calibrate import calibrate_model
from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata
from rankwright.training import run
from rankwright.training.config import TrainConfig

RATIOS = [0.4, 0.3, 0.3]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert, write_pointwise):
    tmp = tmp_path_factory.mktemp("to-calibrate")
    data = write_pointwise(tmp / "pairs.jsonl")
    cfg = from_dict(
        TrainConfig,
        {
            "data": {"path": str(data)},
            "labels": {"scheme": "graded", "relevant_gain": 2},
            "split": {"ratios": RATIOS, "seed": 1},
            "model": {"name": tiny_bert, "max_length": 32},
            "training": {"epochs": 1, "batch_size": 8, "learning_rate": 1e-3, "save_steps": 1000},
            "output_dir": str(tmp / "out"),
            "progress": False,
        },
    )
    return data, run.train(cfg).final_dir


@pytest.fixture
def parts(trained):
    data, _ = trained
    loaded = read_relevance(DataConfig(path=str(data)))
    scheme = build_scheme(LabelConfig(scheme="graded", relevant_gain=2), loaded)
    return split_data(loaded, SplitConfig(ratios=RATIOS, seed=1)), scheme


@pytest.fixture
def folder(trained, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(trained[1], copy)
    return copy


def _raw(folder, part) -> np.ndarray:
    return Reranker.from_pretrained(folder).logits(part.pairs[QUERY].tolist(), part.pairs[DOC].tolist())


def test_calibrate_model_fits_on_one_split_reports_ece_on_another_and_writes_the_folder(folder, parts):
    split, scheme = parts
    val, test = split["val"], split["test"]
    assert ModelMetadata.load(folder).calibration is None
    assert "Calibration" not in (folder / "README.md").read_text()
    result = calibrate_model(folder, val, test, scheme, "platt", source="pairs.jsonl")
    assert "- **Calibration**: platt fitted on pairs.jsonl (val, " in (folder / "README.md").read_text()
    stored = ModelMetadata.load(folder).calibration
    assert stored["fitted_on"] == f"pairs.jsonl (val, {len(val.pairs)} pairs)"
    expected = fit_calibration(_raw(folder, val), scheme.relevant(val.pairs[LABEL]), "platt")
    assert stored["a"] == pytest.approx(expected["a"]) and stored["b"] == pytest.approx(expected["b"])
    assert result["method"] == "platt" and result["fitted_on"] == "val" and result["pairs"] == len(val.pairs)
    assert result["calibration"] == {k: v for k, v in stored.items() if k != "fitted_on"}
    raw_test, rel_test = _raw(folder, test), scheme.relevant(test.pairs[LABEL])
    report = result["report"]
    assert report["subset"] == "test" and report["pairs"] == len(test.pairs)
    assert report["ece_before"] == pytest.approx(expected_calibration_error(1 / (1 + np.exp(-raw_test)), rel_test))
    assert report["ece_after"] == pytest.approx(
        expected_calibration_error(apply_calibration(stored, raw_test), rel_test)
    )


def test_an_in_memory_reranker_gives_what_loading_the_folder_gives(folder, parts, tmp_path):
    split, scheme = parts
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    loaded = calibrate_model(folder, split["val"], split["test"], scheme, "temperature")
    given = calibrate_model(
        other, split["val"], split["test"], scheme, "temperature", reranker=Reranker.from_pretrained(other)
    )
    assert given == loaded
    assert ModelMetadata.load(other).calibration == ModelMetadata.load(folder).calibration


def test_no_or_empty_report_split_skips_the_report(folder, parts):
    split, scheme = parts
    assert "report" not in calibrate_model(folder, split["val"], None, scheme, "isotonic")
    empty = split["test"]
    empty = type(empty)(empty.pairs.iloc[:0], empty.report, empty.corpus, empty.queries, empty.format)
    assert "report" not in calibrate_model(folder, split["val"], empty, scheme, "isotonic")
    assert ModelMetadata.load(folder).calibration["method"] == "isotonic"


def test_calibrate_model_needs_a_rankwright_folder(tmp_path, parts):
    split, scheme = parts
    with pytest.raises(ValueError, match=r"no rankwright\.json"):
        calibrate_model(tmp_path, split["val"], None, scheme)


def test_calibrate_command_isotonic(trained, folder, capsys):
    data, _ = trained
    args = [
        "calibrate",
        "--model",
        str(folder),
        "--data.path",
        str(data),
        "--progress",
        "false",
        "--method",
        "isotonic",
    ]
    args += ["--labels.scheme", "graded", "--labels.relevant_gain", "2", "--split.ratios", "0.4,0.3,0.3"]
    args += ["--split.seed", "1"]
    assert cli(args) == 0
    printed = capsys.readouterr().out
    assert "calibration: isotonic fitted on val (45 pairs)" in printed  # 9 validation queries x 5
    assert "ECE on test (45 pairs): " in printed
    calibration = json.loads((folder / "rankwright.json").read_text())["calibration"]
    assert calibration["method"] == "isotonic" and calibration["fitted_on"] == f"{data} (val, 45 pairs)"
    reranker = Reranker.from_pretrained(folder)
    queries, docs = ["drill number 0"] * 3, ["drill model 0", "sofa model 1", "lamp model 2"]
    probs = reranker.score(queries, docs, calibrated=True)
    assert np.all((probs >= 0) & (probs <= 1))
    assert np.array_equal(probs, apply_calibration(calibration, reranker.logits(queries, docs)))


def test_calibrate_command_without_report_subset(trained, folder, capsys):
    data, _ = trained
    args = ["calibrate", "--model", str(folder), "--data.path", str(data), "--progress", "false"]
    args += ["--labels.scheme", "graded", "--labels.relevant_gain", "2", "--report_subset", "none"]
    assert cli(args) == 0
    printed = capsys.readouterr().out
    assert "calibration: platt fitted on val" in printed and "ECE" not in printed


@pytest.mark.parametrize("value", ["all", "tset"])
def test_an_unknown_report_subset_is_refused_before_any_data_or_model_is_read(
    trained, folder, value, caplog, monkeypatch
):
    import rankwright.commands.calibrate as command

    data, _ = trained
    monkeypatch.setattr(command, "load_data", lambda *a, **k: pytest.fail("the data was read"))
    monkeypatch.setattr(Reranker, "from_pretrained", lambda *a, **k: pytest.fail("a model was loaded"))
    args = ["calibrate", "--model", str(folder), "--data.path", str(data), "--progress", "false"]
    args += ["--labels.scheme", "graded", "--labels.relevant_gain", "2", "--report_subset", value]
    assert cli(args) == 2
    assert f"report_subset must be one of train, val, test or none (no report), got {value!r}" in caplog.text
    assert ModelMetadata.load(folder).calibration is None


def test_evaluate_reports_the_calibrated_probability_of_a_calibrated_model(trained, folder, parts, tmp_path):
    import pandas as pd

    data, _ = trained
    split, scheme = parts
    calibrate_model(folder, split["val"], None, scheme, "platt")
    out = tmp_path / "eval"
    args = ["evaluate", "--scorer", "model", "--model", str(folder), "--data.path", str(data), "--progress", "false"]
    args += ["--labels.scheme", "graded", "--labels.relevant_gain", "2", "--split.ratios", "0.4,0.3,0.3"]
    args += ["--split.seed", "1", "--subset", "test", "--output_dir", str(out)]
    assert cli(args) == 0
    pred = pd.read_parquet(out / "predictions.parquet")
    reranker = Reranker.from_pretrained(folder)
    expected = reranker.score(pred[QUERY].tolist(), pred[DOC].tolist(), calibrated=True)
    np.testing.assert_allclose(pred["probability"].to_numpy(), expected, atol=1e-6)
    # The ranking score stays the raw logit; the reliability diagram uses the probability.
    np.testing.assert_allclose(
        pred["score"].to_numpy(), reranker.score(pred[QUERY].tolist(), pred[DOC].tolist()), atol=1e-5
    )
    html = (out / "report.html").read_text()
    assert "calibrated P(relevant)" in html
    ece = expected_calibration_error(pred["probability"].to_numpy(), pred["relevant"].to_numpy())
    assert f'<span id="ece">{ece:.4f}</span>' in html
