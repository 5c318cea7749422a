"""``eval.breakdown_by``: the metrics averaged per group of queries, where every evaluated
query is in one group; queries without a value form the group ``(missing)``, counted and
logged, so the queries per group add up to the evaluated queries."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from rankwright import cli
from rankwright.data.config import ColumnMap
from rankwright.data.labels import LabelConfig, build_scheme
from rankwright.data.readers import DataConfig, read_relevance
from rankwright.evaluation.config import EvalOptions
from rankwright.evaluation.evaluate import evaluate_scores

MISSING_GROUP = "(missing)"
#: query -> user (None: an empty cell; " ": blanks)
USERS = {"q1": "u1", "q2": "u1", "q3": "u2", "q4": None, "q5": " ", "q6": None}


def _write(path, users: dict[str, str | None]):
    """Three documents (one relevant) for each query, with its user in every row."""
    lines = ["query_id,query,doc_id,doc,label,user_id"]
    for q, user in users.items():
        for d in range(3):
            lines.append(f"{q},query {q},{q}d{d},document {d} of {q},{int(d == 0)},{user or ''}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def data_file(tmp_path):
    """Six queries; q4..q6 have no user."""
    return _write(tmp_path / "pairs.csv", USERS)


def _evaluate(path, by: str = "user_id"):
    data = read_relevance(DataConfig(path=str(path), columns=ColumnMap(keep=[by])))
    scheme = build_scheme(LabelConfig(scheme="binary", threshold=1), data)
    # the relevant document first for q1, q3 and q5; last for the others
    run = data.pairs[["query_id", "doc_id"]].copy()
    first = run["query_id"].isin(["q1", "q3", "q5"])
    relevant = run["doc_id"].str.endswith("d0")
    run["score"] = (relevant == first).astype(float)
    options = EvalOptions(random_baseline=False, breakdown_by=by)
    return evaluate_scores(data, scheme, run, "system", options)


def test_queries_without_a_value_are_the_missing_group(data_file, caplog):
    with caplog.at_level(logging.WARNING, logger="rankwright"):
        evaluation = _evaluate(data_file)
    breakdown = evaluation.metrics["breakdown"]
    assert breakdown["queries"] == len(evaluation.per_query) == 6
    assert breakdown["queries_per_group"] == {"u1": 2, "u2": 1, MISSING_GROUP: 3}
    assert sum(breakdown["queries_per_group"].values()) == breakdown["queries"]
    assert breakdown["queries_missing"] == 3 and breakdown["n_groups"] == 3
    per_query = evaluation.per_query
    by_group = {
        "u1": per_query.loc[["q1", "q2"], "mrr"].mean(),
        "u2": per_query.loc["q3", "mrr"],
        MISSING_GROUP: per_query.loc[["q4", "q5", "q6"], "mrr"].mean(),
    }
    assert breakdown["mean_over_groups"]["mrr"] == pytest.approx(sum(by_group.values()) / 3)
    assert per_query.loc[["q4", "q5", "q6"], "user_id"].isna().all()
    assert "breakdown_by='user_id': 3 of 6 evaluated queries have no value; they are the group '(missing)'" in (
        caplog.text
    )


def test_a_query_takes_its_first_value_and_one_with_two_values_is_logged(tmp_path, caplog):
    lines = ["query_id,query,doc_id,doc,label,user_id"]
    lines += ["q1,query 1,a,doc a,1,", "q1,query 1,b,doc b,0,u1", "q2,query 2,c,doc c,1,u1", "q2,query 2,d,doc d,0,u2"]
    path = tmp_path / "pairs.csv"
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="rankwright"):
        breakdown = _evaluate(path).metrics["breakdown"]
    assert breakdown["queries_per_group"] == {"u1": 2}  # q1's first row is blank: its first value is u1
    assert breakdown["queries_missing"] == 0
    assert "breakdown_by='user_id': 1 queries have more than one value" in caplog.text


def test_every_query_has_a_value(tmp_path):
    users = {q: (user if user and user.strip() else "u3") for q, user in USERS.items()}
    breakdown = _evaluate(_write(tmp_path / "pairs.csv", users)).metrics["breakdown"]
    assert breakdown["queries_per_group"] == {"u1": 2, "u2": 1, "u3": 3} and breakdown["queries_missing"] == 0


def test_the_command_writes_the_groups_to_metrics_json(data_file, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["evaluate", "--data.path", str(data_file), "--labels.scheme", "binary", "--labels.threshold", "1"]
    argv += [
        "--data.columns.keep",
        "user_id",
        "--eval.breakdown_by",
        "user_id",
        "--output_dir",
        str(out),
        "--report",
        "false",
        "--progress",
        "false",
    ]
    assert cli.main(argv) == 0
    capsys.readouterr()
    breakdown = json.loads((out / "metrics.json").read_text())["breakdown"]
    per_query = pd.read_csv(out / "per_query.csv")
    assert sum(breakdown["queries_per_group"].values()) == breakdown["queries"] == len(per_query) == 6
    assert breakdown["queries_per_group"][MISSING_GROUP] == 3
