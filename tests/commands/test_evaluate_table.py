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


def _bm25_run_file(data, path, sign: float = 1.0):
    """BM25's scores of the data's candidates (times ``sign``: -1 inverts BM25's order) as a TREC run."""
    from rankwright.data.readers import DataConfig, read_relevance, write_run
    from rankwright.retrieval.bm25 import BM25

    pairs = read_relevance(DataConfig(path=str(data))).pairs
    run = BM25(pairs.drop_duplicates("doc_id").set_index("doc_id")["doc"].to_dict(), progress=False)
    scores = run.score_candidates(pairs, progress=False)
    write_run(scores.assign(score=sign * scores["score"]), path)
    return str(path)


def test_evaluate_prints_random_and_bm25_rows_with_deltas_and_warns_below_them(write_pointwise, tmp_path, capsys):
    data = write_pointwise(tmp_path / "pointwise.jsonl", n_queries=12)
    inverted = _bm25_run_file(data, tmp_path / "inverted.trec", sign=-1.0)
    argv = ["evaluate", "--data.path", str(data), "--run", inverted, "--output_dir", str(tmp_path / "out")]
    assert cli.main([*argv, "--report", "false", "--progress", "false"]) == 0
    text = capsys.readouterr().out
    _, rows = printed_table(text)
    systems = {"inverted", "random", "bm25"}
    assert set(rows) == {(s, "all") for s in systems}  # every query is informative: one row each
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    ranking = metrics["ranking"]
    assert (
        ranking["inverted"]["all"]["ndcg@10"] < ranking["random"]["all"]["ndcg@10"] < ranking["bm25"]["all"]["ndcg@10"]
    )
    # the deltas under the table: the system minus each baseline, as metrics.json's means give it
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("inverted minus each baseline"))
    assert "12 evaluated queries" in lines[start] and "paired tests on ndcg@10" in lines[start]
    header = lines[start + 1].split()
    for baseline, line in zip(("random", "bm25"), lines[start + 2 : start + 4], strict=True):
        cells = line.split()
        assert cells[0] == baseline
        delta = ranking["inverted"]["all"]["ndcg@10"] - ranking[baseline]["all"]["ndcg@10"]
        assert cells[header.index("ndcg@10")] == f"{delta:+.4f}"
        assert cells[header.index("wins/ties/losses")] == "0/0/12"
    warnings = [line for line in lines if line.startswith("WARNING:")]
    assert len(warnings) == 2
    assert "below random order's" in warnings[0] and "below BM25's" in warnings[1]
    for warning, baseline in zip(warnings, ("random", "bm25"), strict=True):
        c = next(c for c in metrics["against_baselines"]["comparisons"] if c["baseline"] == baseline)
        assert "on the 12 evaluated queries" in warning and "paired t-test p " in warning
        assert f"randomisation p {c['randomisation_p']:.4f}" in warning and c["randomisation_p"] < 0.01
    assert metrics["against_baselines"]["warnings"] == warnings


def test_evaluate_adds_the_baseline_run_row_and_no_warning_above_random_and_bm25(write_pointwise, tmp_path, capsys):
    data = write_pointwise(tmp_path / "pointwise.jsonl", n_queries=12)
    good = _bm25_run_file(data, tmp_path / "good.trec")
    inverted = _bm25_run_file(data, tmp_path / "inverted.trec", sign=-1.0)
    argv = ["evaluate", "--data.path", str(data), "--run", good, "--baseline", inverted]
    assert cli.main([*argv, "--output_dir", str(tmp_path / "out"), "--report", "false", "--progress", "false"]) == 0
    text = capsys.readouterr().out
    _, rows = printed_table(text)
    assert {s for s, _ in rows} == {"good", "random", "bm25", "inverted"}
    assert rows[("good", "all")] == rows[("bm25", "all")]  # the same scores
    assert "WARNING" not in text  # ties with BM25 and a baseline run below it are no warning
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("good minus each baseline"))
    assert [line.split()[0] for line in lines[start + 2 : start + 5]] == ["random", "bm25", "inverted"]


def test_evaluate_bm25_has_no_second_bm25_row(write_pointwise, tmp_path, capsys):
    data = write_pointwise(tmp_path / "pointwise.jsonl", n_queries=6)
    argv = ["evaluate", "--data.path", str(data), "--baseline", "bm25", "--output_dir", str(tmp_path / "out")]
    assert cli.main([*argv, "--report", "false", "--progress", "false"]) == 0
    _, rows = printed_table(capsys.readouterr().out)
    assert {s for s, _ in rows} == {"bm25", "random"}
