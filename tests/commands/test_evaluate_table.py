"""Every metric asked for is a column of the table ``evaluate`` and ``compare`` print
(not only of the files), with the value written to metrics.json / compare.json; the
default cut-offs keep the usual compact table."""

from __future__ import annotations

import json

import pytest

from rankwright import cli
from rankwright.evaluation.ranking import RankingConfig, table_metrics

QRELS = "q1 0 a 2\nq1 0 b 0\nq1 0 c 1\nq2 0 x 1\nq2 0 y 0\nq3 0 z 3\nq3 0 w 1\n"
RUN_A = "q1 Q0 a 1 3 s\nq1 Q0 c 2 2 s\nq1 Q0 d 3 1 s\nq2 Q0 y 1 5 s\nq2 Q0 x 2 4 s\nq3 Q0 w 1 2 s\n"
RUN_B = "q1 Q0 c 1 3 t\nq1 Q0 a 2 2 t\nq2 Q0 x 1 4 t\nq3 Q0 z 1 1 t\nq3 Q0 w 2 0.5 t\n"
DEFAULT_COLUMNS = ["ndcg@10", "ndcg", "map", "mrr", "p@10", "recall@100"]


def printed_table(text: str) -> tuple[list[str], dict[tuple[str, str], list[str]]]:
    """The header's metric names and each (system, subset) row's cells of a printed table."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:3] == ["system", "queries", "n"])
    header = lines[start].split()[3:]
    rows = {}
    for line in lines[start + 2 :]:
        cells = line.split()
        if len(cells) != len(header) + 3:
            break
        rows[(cells[0], cells[1])] = cells[3:]
    return header, rows


@pytest.fixture
def files(tmp_path):
    paths = {"qrels": tmp_path / "qrels", "a": tmp_path / "a.trec", "b": tmp_path / "b.trec"}
    for key, text in (("qrels", QRELS), ("a", RUN_A), ("b", RUN_B)):
        paths[key].write_text(text)
    return {k: str(v) for k, v in paths.items()}


def test_table_metrics_rule():
    assert table_metrics(RankingConfig()) == DEFAULT_COLUMNS
    asked = RankingConfig(ndcg_at=[10, 100], precision_at=[5])
    assert table_metrics(asked) == ["ndcg@10", "ndcg@100", "ndcg", "map", "mrr", "p@5", "recall@100"]
    assert table_metrics(RankingConfig(ndcg_at=[5], recall_at=[])) == ["ndcg@5", "ndcg", "map", "mrr", "p@10"]


def test_evaluate_prints_every_metric_asked_for(files, tmp_path, capsys):
    out = tmp_path / "eval"
    flags = ["--eval.metrics.ndcg_at", "10,100", "--eval.metrics.precision_at", "5", "--eval.metrics.recall_at", "3,50"]
    argv = ["evaluate", "--run", files["a"], "--qrels", files["qrels"], "--output_dir", str(out), *flags]
    assert cli.main([*argv, "--report", "false"]) == 0
    header, rows = printed_table(capsys.readouterr().out)
    assert header == ["ndcg@10", "ndcg@100", "ndcg", "map", "mrr", "p@5", "recall@3", "recall@50"]
    summary = json.loads((out / "metrics.json").read_text())["ranking"]
    for system in ("a", "random"):
        for subset in ("all", "informative"):
            expected = [f"{summary[system][subset][m]:.4f}" for m in header]
            assert rows[(system, subset)] == expected


def test_evaluate_with_data_prints_every_metric_asked_for(write_pointwise, tmp_path, capsys):
    data = write_pointwise(tmp_path / "pointwise.jsonl", n_queries=6)
    argv = ["evaluate", "--data.path", str(data), "--output_dir", str(tmp_path / "out"), "--report", "false"]
    assert (
        cli.main([*argv, "--progress", "false", "--eval.metrics.ndcg_at", "3,5", "--eval.metrics.precision_at", "1"])
        == 0
    )
    printed = capsys.readouterr().out
    header, rows = printed_table(printed)
    assert header == ["ndcg@3", "ndcg@5", "ndcg", "map", "mrr", "p@1", "recall@100"]
    # Every query of this data is informative: one row per system, and the table says why.
    assert set(rows) == {("bm25", "all"), ("random", "all")}
    assert "\nall = informative: every query has a relevant and a non-relevant judged document\n" in printed


def test_compare_prints_every_metric_asked_for(files, tmp_path, capsys):
    out = tmp_path / "cmp"
    flags = ["--metrics.ndcg_at", "10,100", "--metrics.precision_at", "5", "--rounds", "100"]
    assert (
        cli.main(["compare", files["a"], files["b"], "--qrels", files["qrels"], "--output_dir", str(out), *flags]) == 0
    )
    header, rows = printed_table(capsys.readouterr().out)
    assert header == ["ndcg@10", "ndcg@100", "ndcg", "map", "mrr", "p@5", "recall@100"]
    summary = json.loads((out / "compare.json").read_text())["ranking"]
    for system in ("a", "b"):
        for subset in ("all", "informative"):
            assert rows[(system, subset)] == [f"{summary[system][subset][m]:.4f}" for m in header]
    page = (out / "compare.html").read_text(encoding="utf-8")
    assert 'data-metric="ndcg@100"' in page and 'data-metric="p@5"' in page


def test_default_metrics_keep_the_compact_table(files, tmp_path, capsys):
    argv = [
        "compare",
        files["a"],
        files["b"],
        "--qrels",
        files["qrels"],
        "--output_dir",
        str(tmp_path),
        "--rounds",
        "50",
    ]
    assert cli.main([*argv, "--report", "false"]) == 0
    header, _ = printed_table(capsys.readouterr().out)
    assert header == DEFAULT_COLUMNS
