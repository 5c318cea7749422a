"""Validation a run can afford: a seeded sample of the validation queries, each query's
top candidates, and a throughput that leaves validation time out."""

from __future__ import annotations

import logging
import time

import pandas as pd
import pytest

from rankwright.config import from_dict
from rankwright.data.records import DropReport, RelevanceData
from rankwright.training.config import TrainConfig
from rankwright.training.run import train
from rankwright.training.trainer import ValidationSet
from rankwright.training.validation import affordable_validation, sample_queries, top_candidates


def _pairs(n_queries: int, per_query: int = 4) -> pd.DataFrame:
    rows = [
        {"query_id": f"q{q}", "query": f"query {q}", "doc_id": f"d{q}-{j}", "doc": f"doc {j}", "label": int(j == 1)}
        for q in range(n_queries)
        for j in range(per_query)
    ]
    return pd.DataFrame(rows)


def test_the_query_sample_is_fixed_by_the_seed_and_has_n_queries():
    pairs = _pairs(50)
    first = sample_queries(pairs, 10, seed=7)
    assert first["query_id"].nunique() == 10
    assert (first.groupby("query_id").size() == 4).all()  # whole queries, every candidate
    again = sample_queries(pairs.sample(frac=1.0, random_state=3), 10, seed=7)  # the file's order does not matter
    assert set(again["query_id"]) == set(first["query_id"])
    assert set(sample_queries(pairs, 10, seed=8)["query_id"]) != set(first["query_id"])
    assert sample_queries(pairs, 50, seed=7) is pairs and sample_queries(pairs, None, seed=7) is pairs


def test_depth_keeps_each_querys_top_candidates_by_first_stage_score_else_as_given():
    pairs = _pairs(3, per_query=5)
    given = top_candidates(pairs, 2)
    assert given.groupby("query_id")["doc_id"].apply(list).to_dict() == {
        f"q{q}": [f"d{q}-0", f"d{q}-1"] for q in range(3)
    }
    scored = pairs.assign(first_stage_score=[0.1, 0.5, 0.9, 0.3, 0.7] * 3)
    top = top_candidates(scored, 2)
    assert top.groupby("query_id")["doc_id"].apply(set).to_dict() == {f"q{q}": {f"d{q}-2", f"d{q}-4"} for q in range(3)}
    assert top_candidates(pairs, None) is pairs


def test_affordable_validation_logs_the_count_and_rejects_zero(caplog):
    val = RelevanceData(_pairs(20), DropReport(source="val"))
    with caplog.at_level(logging.INFO, logger="rankwright.training.validation"):
        kept = affordable_validation(val, 5, 3, seed=42)
    assert kept.n_queries == 5 and len(kept.pairs) == 15
    assert "validating on 5 of 20 validation queries" in caplog.text
    assert affordable_validation(val, None, None, seed=42) is val
    with pytest.raises(ValueError, match=r"training\.validation_queries must be at least 1"):
        affordable_validation(val, 0, None, seed=42)


def test_throughput_counts_training_steps_alone(tmp_path, tiny_bert, write_pointwise, monkeypatch):
    """A slow validation (one second more) leaves pairs/s as it is: the time validating is
    measured and taken out; the validation sample has the queries asked for."""
    original = ValidationSet.evaluate

    def slow(self, *args, **kwargs):
        time.sleep(1.0)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ValidationSet, "evaluate", slow)
    data = write_pointwise(tmp_path / "pairs.jsonl", n_queries=12)
    config = from_dict(
        TrainConfig,
        {
            "data": {"path": str(data)},
            "labels": {"scheme": "graded", "relevant_gain": 2},
            "split": {"ratios": [0.6, 0.4, 0.0], "seed": 1},
            "model": {"name": tiny_bert, "max_length": 32},
            "training": {"epochs": 1, "batch_size": 16, "save_steps": 1000, "validation_queries": 3},
            "output_dir": str(tmp_path / "out"),
            "progress": False,
        },
    )
    m = train(config).metrics
    assert m["validation"] == {"queries": 3, "pairs": 15}
    assert len(m["validation_history"]) == 1  # the epoch's validation, during train()
    assert m["validation_runtime_s"] >= 1.0
    stepping = m["train_runtime_s"] - m["validation_runtime_s"]
    assert m["pairs_per_second"] == pytest.approx(m["pairs_seen"] / stepping)
    assert m["pairs_per_second"] >= m["pairs_seen"] / (m["train_runtime_s"] - 1.0)  # the sleep is not in it


def test_train_prints_the_training_steps_pairs_per_second():
    from io import StringIO
    from types import SimpleNamespace

    from rankwright.cli import _report_train

    metrics = {"train_runtime_s": 10.0, "validation_runtime_s": 4.0, "pairs_per_second": 50.0}
    out = StringIO()
    _report_train(out, SimpleNamespace(final_dir="runs/x/final", best_dir=None, metrics=metrics))
    assert "training: 10.0 s (4.0 s of it validating), 50.0 pairs/s (training steps only, validation excluded)" in (
        out.getvalue()
    )


def test_a_separate_validation_file_reports_its_dropped_rows(tmp_path, caplog):
    from rankwright.training.run import _datasets

    train_file, val_file = tmp_path / "train.csv", tmp_path / "val.csv"
    train_file.write_text("query,doc,label\nusb cable,cable,1\nusb cable,hub,0\n")
    val_file.write_text("query,doc,label\ndesk lamp,lamp,1\ndesk lamp,,0\ndesk lamp,bulb,0\n")
    config = from_dict(TrainConfig, {"data": {"path": str(train_file)}, "val_path": str(val_file)})
    with caplog.at_level(logging.INFO, logger="rankwright"):
        _, val, _, _ = _datasets(config)
    assert len(val.pairs) == 2
    assert f"validation: {val_file}: 3 rows in = 2 used + 1 dropped (empty document: 1)" in caplog.text
