"""Nothing lost, command by command: a second run into an earlier run's output exits 2
with one line naming the output and ``--overwrite true``, and changes nothing on disk;
with ``--overwrite true`` it replaces the earlier results (stale files included).
Everything a command writes is one of the names its guard knows, so that none of its
files is ever written over silently."""

from __future__ import annotations

import fnmatch
import json
import logging
from pathlib import Path

import numpy as np
import pytest

import rankwright.cli
import rankwright.recipe.run
from rankwright.cli import main as cli
from rankwright.commands import compare, evaluate, export, quickstart, retrieve_rerank, split, train
from rankwright.demo import DEMO_DATA

DEMO = ["--data.path", str(DEMO_DATA), "--progress", "false"]
POINTWISE_LABELS = ["--labels.scheme", "graded", "--labels.relevant_gain", "2"]


def snapshot(path: Path) -> dict[str, tuple[int, bytes]]:
    """Every file at or under ``path``: modification time and contents."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in files}


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def assert_refused(argv: list[str], output: Path, flag: str, caplog) -> None:
    """``argv`` exits 2 with one line naming ``output``, ``--overwrite true`` and ``flag``; nothing changed."""
    before = snapshot(output)
    assert before
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert cli(argv) == 2
    (message,) = errors(caplog)
    assert str(output) in message and "--overwrite true" in message and flag in message
    assert snapshot(output) == before


def assert_guarded(argv: list[str], output: Path, caplog, flag: str = "--output_dir") -> None:
    """Run, run again (refused), run with --overwrite true (replaced)."""
    assert cli(argv) == 0
    assert_refused(argv, output, flag, caplog)
    assert cli([*argv, "--overwrite", "true"]) == 0


def assert_names_known(folder: Path, patterns: tuple[str, ...]) -> None:
    unknown = [p.name for p in folder.iterdir() if not any(fnmatch.fnmatchcase(p.name, q) for q in patterns)]
    assert unknown == [], f"{folder} has files its guard does not know: {unknown}"


@pytest.fixture
def pointwise(tmp_path, write_pointwise) -> Path:
    return write_pointwise(tmp_path / "pairs.jsonl", n_queries=10)


def test_bm25_run_file(tmp_path, caplog):
    out = tmp_path / "runs" / "bm25.trec"
    assert_guarded(["bm25", *DEMO, "--output", str(out)], out, caplog, "--output")


def test_split_never_replaces_the_files_a_model_was_trained_on(tmp_path, caplog):
    out = tmp_path / "split"
    argv = ["split", *DEMO[:2], "--output_dir", str(out)]
    assert cli(argv) == 0
    assert_names_known(out, split.OUTPUTS)
    assert_refused([*argv, "--split.seed", "7"], out, "--output_dir", caplog)
    assert cli([*argv, "--split.seed", "7", "--overwrite", "true"]) == 0
    assert json.loads((out / "split.json").read_text())["seed"] == 7


def test_evaluate_folder(tmp_path, caplog):
    out = tmp_path / "eval"
    assert_guarded(["evaluate", *DEMO, "--report", "false", "--output_dir", str(out)], out, caplog)
    assert_names_known(out, evaluate.OUTPUTS)


def test_compare_folder(tmp_path, caplog):
    runs = [tmp_path / "a.trec", tmp_path / "b.trec"]
    assert cli(["bm25", *DEMO, "--output", str(runs[0])]) == 0
    assert cli(["bm25", *DEMO, "--output", str(runs[1]), "--bm25.k1", "0.2"]) == 0
    out = tmp_path / "cmp"
    argv = ["compare", *map(str, runs), *DEMO[:2], "--report", "false", "--rounds", "50", "--output_dir", str(out)]
    assert_guarded(argv, out, caplog)
    assert_names_known(out, compare.OUTPUTS)


def test_mine_refuses_its_jsonl_or_its_summary(tmp_path, caplog):
    out = tmp_path / "mined.jsonl"
    argv = ["mine", *DEMO, "--output", str(out)]
    assert_guarded(argv, out, caplog, "--output")
    out.unlink()  # the summary alone is still an earlier run's
    assert_refused(argv, tmp_path / "mined.summary.json", "--output", caplog)


def test_rerank_run_file(tmp_path, pointwise, tiny_cross_encoder, caplog):
    out = tmp_path / "reranked.trec"
    argv = ["rerank", "--model", tiny_cross_encoder, "--data.path", str(pointwise), "--output", str(out)]
    assert_guarded([*argv, "--progress", "false"], out, caplog, "--output")


def test_teacher_score_file(tmp_path, pointwise, tiny_cross_encoder, caplog):
    out = tmp_path / "teacher.jsonl"
    argv = ["teacher-score", "--model", tiny_cross_encoder, "--data.path", str(pointwise), *POINTWISE_LABELS]
    assert_guarded([*argv, "--output", str(out), "--progress", "false"], out, caplog, "--output")


def test_retrieve_rerank_folder(tmp_path, pointwise, tiny_cross_encoder, caplog):
    out = tmp_path / "rr"
    argv = ["retrieve-rerank", "--model", tiny_cross_encoder, "--data.path", str(pointwise), *POINTWISE_LABELS]
    assert_guarded([*argv, "--output_dir", str(out), "--progress", "false"], out, caplog)
    assert_names_known(out, retrieve_rerank.OUTPUTS)


def test_export_replaces_an_earlier_model_without_its_stale_files(tmp_path, tiny_cross_encoder, caplog):
    out = tmp_path / "exported"
    assert_guarded(["export", "--model", tiny_cross_encoder, "--output", str(out)], out, caplog, "--output")
    assert_names_known(out, (*export.MODEL_FILES,))
    (out / "adapter_config.json").write_text("{}")  # an earlier export's LoRA adapter
    (out / "my_notes.log").write_text("mine")
    assert cli(["export", "--model", tiny_cross_encoder, "--output", str(out), "--overwrite", "true"]) == 0
    assert not (out / "adapter_config.json").exists() and (out / "my_notes.log").read_text() == "mine"


def test_export_into_the_model_folder_itself_adds_to_it(tmp_path, tiny_cross_encoder):
    from rankwright.inference.reranker import Reranker

    folder = tmp_path / "model"
    assert cli(["export", "--model", tiny_cross_encoder, "--output", str(folder)]) == 0
    before = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    queries, docs = ["drill", "drill", "garden hose"], ["cordless drill kit", "sofa", "a green garden hose"]
    scores = Reranker.from_pretrained(str(folder)).logits(queries, docs, progress=False)
    assert cli(["export", "--model", str(folder), "--output", str(folder), "--onnx", "true"]) == 0
    after = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert (folder / "onnx" / "model.onnx").is_file()
    # added to: every file it had is there, byte for byte (weights, config, tokenizer)
    assert "model.safetensors" in before
    assert {name: after.get(name) for name in before} == before
    assert set(after) - set(before) == {"onnx/model.onnx", "rankwright.json"}
    assert "onnx" in json.loads((folder / "rankwright.json").read_text())["export"]
    np.testing.assert_array_equal(Reranker.from_pretrained(str(folder)).logits(queries, docs, progress=False), scores)
    onnx = Reranker.from_pretrained(str(folder), backend="onnx").logits(queries, docs, progress=False)
    np.testing.assert_allclose(onnx, scores, atol=1e-5)


def test_train_folder_refused_replaced_or_resumed(tmp_path, pointwise, tiny_bert, caplog, monkeypatch):
    out = tmp_path / "model"
    (out / "checkpoint-500").mkdir(parents=True)
    (out / "train_summary.json").write_text("{}")
    (out / "checkpoint-500" / "trainer_state.json").write_text("{}")  # complete: resumable
    argv = ["train", "--data.path", str(pointwise), *POINTWISE_LABELS, "--model.name", tiny_bert]
    argv += ["--model.max_length", "32", "--training.max_steps", "2", "--training.batch_size", "8"]
    argv += ["--training.save_steps", "1000", "--output_dir", str(out), "--progress", "false"]
    assert_refused(argv, out, "--output_dir", caplog)
    assert "--training.resume true" in errors(caplog)[0]
    (out / "checkpoint-500" / "trainer_state.json").unlink()  # cut short: nothing to resume from
    assert_refused(argv, out, "--output_dir", caplog)
    assert "--training.resume" not in errors(caplog)[0]
    assert cli([*argv, "--overwrite", "true"]) == 0
    assert not (out / "checkpoint-500").exists() and (out / "final" / "rankwright.json").exists()
    assert_names_known(out, train.OUTPUTS)
    monkeypatch.setattr(train, "train", lambda config: None)  # resuming: the guard lets it through
    monkeypatch.setattr(rankwright.cli, "_report", lambda command, result: None)
    assert cli([*argv, "--training.resume", "true"]) == 0
    assert cli([*argv, "--training.resume", "true", "--overwrite", "true"]) == 2
    assert "choose one" in errors(caplog)[-1]


def test_recipe_folder_is_checked_before_any_work(tmp_path, pointwise, caplog, monkeypatch):
    out = tmp_path / "recipe"
    (out / "reranker" / "best").mkdir(parents=True)
    (out / "recipe.json").write_text("{}")
    (out / "cache").mkdir()  # e.g. --dense.cache_dir: not the recipe's to remove
    argv = ["recipe", "--data.path", str(pointwise), *POINTWISE_LABELS, "--output_dir", str(out)]
    assert_refused(argv, out, "--output_dir", caplog)  # another run's results, without its fingerprint
    assert "rerunning the same command continues it" in errors(caplog)[0]

    def prepare(config):
        raise ValueError("stop after the guard")

    monkeypatch.setattr(rankwright.recipe.run, "prepare", prepare)
    assert cli([*argv, "--overwrite", "true"]) == 2 and errors(caplog)[-1] == "stop after the guard"
    assert [p.name for p in out.iterdir()] == ["cache"]


def test_quickstart_replaces_its_own_results_unless_told_not_to(tmp_path, caplog, monkeypatch):
    out = tmp_path / "quickstart"
    (out / "train" / "final").mkdir(parents=True)
    (out / "quickstart.json").write_text("{}")
    argv = ["quickstart", "--output_dir", str(out), "--progress", "false"]
    assert_refused([*argv, "--overwrite", "false"], out, "--output_dir", caplog)

    def read_relevance(path):
        raise ValueError("stop after the guard")

    monkeypatch.setattr(quickstart, "read_relevance", read_relevance)
    assert cli(argv) == 2 and errors(caplog)[-1] == "stop after the guard"
    assert list(out.iterdir()) == []
