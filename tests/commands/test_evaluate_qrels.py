"""``rankwright evaluate --run RUN --qrels QRELS`` and ``rankwright compare A B --qrels QRELS``
with nothing else, like trec_eval: every per-query number equals pytrec_eval's on the
same files (judged queries missing from the run score 0, as ``trec_eval -c``), the
label flags still apply, outputs that need texts are left out, and bad lines name the
file and the line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import pytrec_eval

from rankwright import cli
from rankwright.commands.compare import CompareConfig
from rankwright.commands.compare import main as compare_main
from rankwright.commands.evaluate import EvaluateConfig
from rankwright.commands.evaluate import main as evaluate_main
from rankwright.config import from_dict
from rankwright.data.records import DataError

#: our column -> pytrec_eval's measure
MEASURES = {
    "ndcg@10": "ndcg_cut_10",
    "ndcg": "ndcg",
    "map": "map",
    "mrr": "recip_rank",
    "p@5": "P_5",
    "p@10": "P_10",
    "recall@10": "recall_10",
    "recall@100": "recall_100",
}
TREC_EVAL = {"ndcg_cut.10", "ndcg", "map", "recip_rank", "P.5", "P.10", "recall.10", "recall.100"}


def make_qrels() -> dict[str, dict[str, int]]:
    """12 judged queries, grades 0..3 and a few -1 (not relevant); q11 has no relevant document."""
    rng = np.random.default_rng(11)
    qrels = {}
    for q in range(12):
        docs = rng.choice(40, size=int(rng.integers(3, 12)), replace=False)
        grades = rng.choice([-1, 0, 0, 1, 2, 3], size=len(docs))
        qrels[f"q{q}"] = {f"d{d}": int(0 if q == 11 else g) for d, g in zip(docs, grades, strict=True)}
    return qrels


def make_run(seed: int) -> dict[str, dict[str, float]]:
    """20 of the 40 documents per query for q0..q9 (q10, q11 missing), scores rounded to
    one decimal (ties, broken by doc id as trec_eval does), plus an unjudged query q99."""
    rng = np.random.default_rng(seed)
    run = {}
    for q in [*range(10), 99]:
        docs = rng.choice(40, size=20, replace=False)
        run[f"q{q}"] = {f"d{d}": float(np.round(rng.random(), 1)) for d in docs}
    return run


def write_qrels(path, qrels, columns=4):
    lines = [
        f"{q} 0 {d} {g}" if columns == 4 else f"{q}\t{d}\t{g}" for q, docs in qrels.items() for d, g in docs.items()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def write_run(path, run, tag="sys"):
    lines = []
    for q, docs in run.items():
        ranked = sorted(docs.items(), key=lambda kv: -kv[1])
        lines += [f"{q} Q0 {d} {i} {s} {tag}" for i, (d, s) in enumerate(ranked, start=1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def trec_eval(qrels, run, relevance_level=1) -> pd.DataFrame:
    """pytrec_eval per query (our column names); judged queries the run misses get 0."""
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, TREC_EVAL, relevance_level=relevance_level)
    values = evaluator.evaluate(run)
    frame = pd.DataFrame({ours: {q: v[theirs] for q, v in values.items()} for ours, theirs in MEASURES.items()})
    return frame.reindex(sorted(qrels)).fillna(0.0)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("qrels_only")
    qrels, runs = make_qrels(), [make_run(1), make_run(2)]
    paths = {
        "qrels": write_qrels(root / "qrels.txt", qrels),
        "qrels3": write_qrels(root / "qrels3.tsv", qrels, columns=3),
        "runs": [write_run(root / f"sys{i}.trec", run) for i, run in enumerate(runs)],
    }
    return root, qrels, runs, paths


METRIC_FLAGS = ["--eval.metrics.precision_at", "5,10", "--eval.metrics.ndcg_at", "10"]


def read_per_query(path) -> pd.DataFrame:
    return pd.read_csv(path, index_col="query_id", dtype={"query_id": str}).sort_index()


def test_evaluate_run_and_qrels_alone_equals_pytrec_eval(files, tmp_path, capsys):
    _, qrels, runs, paths = files
    out = tmp_path / "out"
    argv = ["evaluate", "--run", paths["runs"][0], "--qrels", paths["qrels"], "--output_dir", str(out), *METRIC_FLAGS]
    assert cli.main(argv) == 0
    expected = trec_eval(qrels, runs[0])
    per_query = read_per_query(out / "per_query.csv")
    assert list(per_query.index) == list(expected.index)  # every judged query, none of the run's unjudged q99
    for metric in MEASURES:
        np.testing.assert_allclose(per_query[metric], expected[metric], atol=1e-12, err_msg=metric)
    assert (per_query.loc[["q10", "q11"], list(MEASURES)] == 0).all().all()
    metrics = json.loads((out / "metrics.json").read_text())
    summary = metrics["ranking"]["sys0"]
    assert summary["all"]["n_queries"] == 12
    for metric in MEASURES:
        assert summary["all"][metric] == pytest.approx(expected[metric].mean(), abs=1e-12)
    assert summary["run_queries_without_judgments_dropped"] == 1
    assert summary["judged_queries_missing_from_run_scored_0"] == 2
    assert metrics["labels"]["scheme"] == "graded" and metrics["labels"]["relevant_gain"] == 1
    assert metrics["mode"] == "qrels"
    assert "random" in metrics["ranking"]
    # Outputs that need texts are left out; the others are written.
    assert "query" not in per_query.columns
    assert {p.name for p in out.iterdir()} >= {"metrics.json", "per_query.csv", "run.trec", "report.html"}
    assert not (out / "predictions.parquet").exists()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="worst-table"' not in page
    printed = capsys.readouterr().out
    assert "labels: graded, relevant when gain >= 1" in printed


def test_three_column_qrels_give_the_same_numbers(files, tmp_path):
    _, _, _, paths = files
    results = []
    for key in ("qrels", "qrels3"):
        config = {"run": paths["runs"][0], "qrels": paths[key], "output_dir": str(tmp_path / key), "report": False}
        results.append(evaluate_main(from_dict(EvaluateConfig, config)).per_query)
    pd.testing.assert_frame_equal(results[0], results[1])


def test_label_flags_override_the_default(files, tmp_path):
    _, qrels, runs, paths = files
    config = {
        "run": paths["runs"][1],
        "qrels": paths["qrels"],
        "labels": {"relevant_gain": 2},
        "output_dir": str(tmp_path),
        "report": False,
        "eval": {"metrics": {"precision_at": [5, 10]}},
    }
    per_query = evaluate_main(from_dict(EvaluateConfig, config)).per_query.sort_index()
    expected = trec_eval(qrels, runs[1], relevance_level=2)
    for metric in ("map", "mrr", "p@5", "p@10", "recall@10", "recall@100", "ndcg@10"):
        np.testing.assert_allclose(per_query[metric], expected[metric], atol=1e-12, err_msg=metric)


def test_compare_runs_and_qrels_alone_equals_pytrec_eval(files, tmp_path, capsys):
    _, qrels, runs, paths = files
    out = tmp_path / "cmp"
    argv = ["compare", *paths["runs"], "--qrels", paths["qrels"], "--output_dir", str(out), "--rounds", "200"]
    assert cli.main(argv) == 0
    per_query = read_per_query(out / "per_query.csv")
    assert "query" not in per_query.columns
    summary = json.loads((out / "compare.json").read_text())["ranking"]
    for i, run in enumerate(runs):
        expected = trec_eval(qrels, run)
        for metric in ("ndcg@10", "ndcg", "map", "mrr", "p@10", "recall@10", "recall@100"):
            np.testing.assert_allclose(per_query[f"sys{i}:{metric}"], expected[metric], atol=1e-12)
            assert summary[f"sys{i}"]["all"][metric] == pytest.approx(expected[metric].mean(), abs=1e-12)
    assert (out / "compare.html").exists()
    assert "paired tests against the baseline sys0" in capsys.readouterr().out


def test_qrels_alone_needs_a_run_and_no_data(files, tmp_path):
    _, _, _, paths = files
    with pytest.raises(ValueError, match="no texts to score with BM25"):
        evaluate_main(from_dict(EvaluateConfig, {"qrels": paths["qrels"], "output_dir": str(tmp_path)}))
    both = {"qrels": paths["qrels"], "run": paths["runs"][0], "data": {"path": paths["qrels"]}}
    with pytest.raises(ValueError, match=r"give qrels alone or the data \(data.path\), not both"):
        evaluate_main(from_dict(EvaluateConfig, both))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("qrels", "q1 0 d1 1\nq1 0 d2 1 extra\n", r"qrels, line 2: expected 4 fields like the first line, found 5"),
        ("qrels", "q1 0 d1 1\n\nq1 0 d2 high\n", r"qrels, line 3: grade 'high' is not a number"),
        ("qrels", "q1 0 d1 1\nq1 0 d1 2\n", r"qrels, line 2: query q1 judges document d1 more than once \(lines 1"),
        ("qrels", "q1 0 d1 1\nq1 0 d2 0.5\n", r"qrels, line 2: grade 0.5 is not an integer"),
        ("run", "q1 Q0 d1 1 2.0 s\nq1 Q0 d2 2 s\n", r"run, line 2: a run line has 6 fields"),
        ("run", "q1 Q0 d1 1 2.0 s\nq1 Q0 d2 2 x s\n", r"run, line 2: score 'x' is not a number"),
        ("run", "q1 Q0 d1 1 2.0 s\nq1 Q0 d1 2 1.0 s\n", r"run, line 2: query q1 lists document d1 more than once"),
    ],
)
def test_bad_lines_name_the_file_and_line(tmp_path, name, text, message):
    files = {"qrels": tmp_path / "qrels", "run": tmp_path / "run"}
    files["qrels"].write_text("q1 0 d1 1\nq1 0 d2 0\n")
    files["run"].write_text("q1 Q0 d1 1 2.0 s\nq1 Q0 d2 2 1.0 s\n")
    files[name].write_text(text)
    config = {"run": str(files["run"]), "qrels": str(files["qrels"]), "output_dir": str(tmp_path / "out")}
    with pytest.raises(DataError, match=message) as err:
        evaluate_main(from_dict(EvaluateConfig, config))
    assert str(files[name]) in str(err.value)
    compare = {"runs": [str(files["run"]), str(files["run"])], "names": ["a", "b"], "qrels": config["qrels"]}
    with pytest.raises(DataError, match=message):
        compare_main(from_dict(CompareConfig, {**compare, "output_dir": str(tmp_path / "cmp")}))
