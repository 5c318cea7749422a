"""``rankwright pairs`` through the CLI: the report, the files ``rankwright train``
reads, evaluation of a model or scored pairs, bad input, and MovieLens 100k with the
shipped config."""

from __future__ import annotations

import fnmatch
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankwright.cli import main as cli
from rankwright.config import from_dict
from rankwright.training.config import TrainConfig
from rankwright.training.run import train

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "movielens_pairs.yaml"
GENRES = ["Drama", "Comedy", "Action", "Horror"]


def write_data(folder: Path) -> tuple[Path, Path]:
    """24 films, 20 users with 6..12 ratings each (seeded)."""
    rng = np.random.default_rng(1)
    items = pd.DataFrame(
        {
            "movie": [f"m{i}" for i in range(24)],
            "name": [f"{GENRES[i % 4].lower()} film number {i}" for i in range(24)],
            "tags": [f"{GENRES[i % 4]}|{GENRES[(i + 1) % 4]}" for i in range(24)],
        }
    )
    rows = []
    for u in range(20):
        for k, item in enumerate(rng.choice(24, size=int(rng.integers(6, 13)), replace=False)):
            rows.append((u, f"m{item}", int(rng.integers(1, 6)), 1000 * u + k))
    interactions = pd.DataFrame(rows, columns=["person", "movie", "stars", "at"])
    items.to_csv(folder / "films.csv", index=False)
    interactions.to_csv(folder / "ratings.tsv", sep="\t", index=False)
    return folder / "ratings.tsv", folder / "films.csv"


def pairs_args(interactions: Path, items: Path, out: Path, *extra: str) -> list[str]:
    return [
        "pairs",
        *("--interactions.path", str(interactions), "--interactions.user", "person", "--interactions.item", "movie"),
        *("--interactions.rating", "stars", "--interactions.timestamp", "at"),
        *("--items.path", str(items), "--items.id", "movie", "--items.title", "name", "--items.genres", "tags"),
        *("--items.text_template", "{name} ({genres})", "--positives.threshold", "3"),
        *("--split.by", "time", "--output.dir", str(out), "--output.formats", "jsonl,parquet"),
        *("--dask.scheduler", "synchronous", "--progress", "false"),
        *extra,
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pairs")
    interactions, items = write_data(folder)
    assert cli(pairs_args(interactions, items, folder / "out")) == 0
    return folder


def test_the_report_and_the_files(built, capsys):
    interactions, items = built / "ratings.tsv", built / "films.csv"
    assert cli(pairs_args(interactions, items, built / "again")) == 0
    printed = capsys.readouterr().out
    summary = json.loads((built / "again" / "summary.json").read_text())
    rows = summary["rows"]
    assert f"rows: train {rows['train']}, val {rows['val']}, test {rows['test']}" in printed
    assert "leakage check (split by time): passed on" in printed
    assert "interactions: " in printed and "rows in =" in printed and "dask: dask synchronous scheduler" in printed
    assert any(line.startswith("popularity ") for line in printed.splitlines())
    assert any(line.startswith("random ") for line in printed.splitlines())
    evaluation = json.loads((built / "again" / "evaluation.json").read_text())
    assert set(evaluation["systems"]) == {"popularity", "random"} and evaluation["unit"] == "user"
    assert evaluation["systems"]["popularity"]["n_units"] == summary["users"]["per_split"]["test"]
    # the run is deterministic: the same files as the fixture's
    for name in ("train.jsonl", "test.parquet"):
        assert (built / "again" / name).read_bytes() == (built / "out" / name).read_bytes()


@pytest.mark.parametrize("name", ["train.jsonl", "train.parquet"])
def test_rankwright_train_reads_the_output(built, tmp_path, tiny_bert, name):
    out = built / "out"
    cfg = from_dict(
        TrainConfig,
        {
            "data": {"path": str(out / name)},
            "val_path": str(out / ("val.jsonl" if name.endswith("jsonl") else "val.parquet")),
            "labels": {"scheme": "binary", "threshold": 1},
            "model": {"name": tiny_bert, "max_length": 64},
            "loss": {"name": "bce"},
            "sampling": {"negatives_per_group": 3},
            "training": {"max_steps": 3, "batch_size": 8, "eval_strategy": "epoch", "save_steps": 1000},
            "output_dir": str(tmp_path / "model"),
            "progress": False,
        },
    )
    result = train(cfg)
    summary = json.loads((out / "summary.json").read_text())
    assert result.metrics["global_steps"] == 3
    assert result.metrics["train_examples_per_epoch"] == summary["rows"]["train"]  # bce: one example a pair
    assert 0.0 <= result.metrics["final_validation"]["eval_ndcg@10"] <= 1.0  # the val file was read
    assert Path(result.final_dir, "config.json").exists()


def test_evaluate_a_model_and_scored_pairs_without_rebuilding(built, tiny_cross_encoder, capsys):
    out = built / "out"
    test = pd.read_parquet(out / "test.parquet")
    scores = test[["query_id", "doc_id"]].assign(score=test["label"] * 2.0)  # an oracle
    scores.to_csv(built / "oracle.csv", index=False)
    args = [
        "--build",
        "false",
        "--evaluation.model",
        tiny_cross_encoder,
        "--evaluation.scores",
        str(built / "oracle.csv"),
    ]
    assert cli(pairs_args(built / "ratings.tsv", built / "films.csv", out, *args)) == 0
    printed = capsys.readouterr().out
    evaluation = json.loads((out / "evaluation.json").read_text())["systems"]
    oracle = evaluation[f"scores {built / 'oracle.csv'}"]
    assert oracle["map"] == oracle["roc_auc"] == 1.0
    model = evaluation[f"model {tiny_cross_encoder}"]
    assert model["n_pairs"] == len(test) and 0.0 <= model["roc_auc"] <= 1.0
    assert "(not rebuilt;" in printed and f"model {tiny_cross_encoder}" in printed
    # the model scored the validation users too: model, popularity and fusions chosen there
    selection = json.loads((out / "evaluation.json").read_text())["selection"]
    assert set(selection["validation"]) == {"reranker", "popularity", "selected"}
    assert set(selection["paired_tests"]) == {"selected vs popularity", "reranker vs popularity"}
    assert f"selected: {selection['chosen']}" in evaluation
    assert "selection on the validation users" in printed and "paired tests on the test users" in printed


def test_bad_input_exits_with_a_message_naming_the_file(built, tmp_path, caplog):
    bad = tmp_path / "ratings.tsv"
    bad.write_text("person\tmovie\tat\n1\tm1\t5\n")
    with caplog.at_level(logging.ERROR):
        assert cli(pairs_args(bad, built / "films.csv", tmp_path / "out")) == 2
    assert f"{bad}: no column 'stars' (rating)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert cli(pairs_args(built / "ratings.tsv", built / "films.csv", tmp_path / "o", "--context.order", "x")) == 2
    assert "context.order must be one of" in caplog.text


def test_movielens_100k_with_the_shipped_config(shared_data, tmp_path, capsys):
    ml = shared_data / "movielens-100k"
    args = ["pairs", "--config", str(CONFIG), "--interactions.path", str(ml / "u.data")]
    args += ["--items.path", str(ml / "u.item"), "--output.dir", str(tmp_path), "--dask.scheduler", "synchronous"]
    assert cli([*args, "--progress", "false"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interactions"]["rows_in"] == 100_000 and summary["items"]["rows_used"] == 1682
    assert summary["users"]["kept"] == 942 and summary["users"]["dropped_fewer_than_min_positives"] == 1
    assert summary["groups"] == {"train": 2820, "val": 942, "test": 942}
    assert summary["rows"] == {"train": 2820 * 4, "val": 942 * 4, "test": 942 * 4}
    assert summary["leakage"]["ok"] and summary["leakage"]["users_checked"] == 942
    first = json.loads((tmp_path / "test.jsonl").read_text().splitlines()[0])
    assert first["query"].startswith("Liked: ") and "Favourite genres: " in first["query"]
    assert ". Genres: " in first["pos"][0]["text"]
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())["systems"]
    assert evaluation["popularity"]["ndcg@10"] > evaluation["random"]["ndcg@10"]
    assert "leakage check (split by time): passed on 942 users" in capsys.readouterr().out


def test_a_second_build_into_the_same_folder_is_refused_unless_overwrite(built, tmp_path, caplog):
    from rankwright.commands.pairs import EVALUATION_FILE, OUTPUTS

    out = tmp_path / "out"
    shutil.copytree(built / "out", out)
    assert all(any(fnmatch.fnmatchcase(p.name, q) for q in (*OUTPUTS, EVALUATION_FILE)) for p in out.iterdir())
    (out / "notes.txt").write_text("mine")
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    argv = pairs_args(built / "ratings.tsv", built / "films.csv", out)
    with caplog.at_level(logging.ERROR):
        assert cli(argv) == 2
    assert f"{out} already holds an earlier run's results" in caplog.text
    assert "--overwrite true" in caplog.text and "--output.dir" in caplog.text
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()} == before
    assert cli([*argv, "--overwrite", "true"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "train.jsonl").read_bytes() == (built / "out" / "train.jsonl").read_bytes()
