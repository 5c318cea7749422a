"""``rankwright compare`` on a small BEIR collection with two BM25 runs written by
``rankwright bm25`` and a shuffled run: the table equals ``evaluate``'s numbers for
each run, the paired tests equal ``paired_comparison`` recomputed from per_query.csv,
compare.html holds its sections and decodable figures, and bad input fails clearly."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from rankwright import cli
from rankwright.commands.compare import CompareConfig
from rankwright.commands.compare import main as compare_main
from rankwright.commands.evaluate import EvaluateConfig
from rankwright.commands.evaluate import main as evaluate_main
from rankwright.config import from_dict
from rankwright.evaluation.significance import paired_comparison

WORDS = ["drill", "sofa", "lamp", "kettle", "hose", "table", "chair", "fan", "rug", "bulb"]
NAMES = ["bm25", "bm25_flat", "shuffled"]
SECTIONS = ["summary", "metrics", "comparison", "differences"]
ROUNDS = 2000


def write_collection(folder):
    """60 documents of varied length, 20 two-word queries, each judged on 8 random
    documents with the gain = how many of the query's words the document has."""
    rng = np.random.default_rng(7)
    vocabulary = WORDS + [f"filler{i}" for i in range(30)]
    (folder / "qrels").mkdir(parents=True)
    texts = {f"d{i}": " ".join(rng.choice(vocabulary, size=int(rng.integers(3, 16)))) for i in range(60)}
    corpus = [{"_id": d, "title": "", "text": t} for d, t in texts.items()]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    queries = {f"q{q}": f"{WORDS[q % 10]} {WORDS[(3 * q + 1) % 10]}" for q in range(20)}
    rows = [{"_id": q, "text": t} for q, t in queries.items()]
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    lines = ["query-id\tcorpus-id\tscore"]
    for q, text in queries.items():
        for i in rng.choice(60, size=8, replace=False):
            gain = len(set(text.split()) & set(texts[f"d{i}"].split()))
            lines.append(f"{q}\td{i}\t{gain}")
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The collection and three runs: BM25, BM25 with other parameters (both written by
    ``rankwright bm25``), and BM25's documents in a random order for all but two queries
    (a CSV table, so the two missing judged queries score 0)."""
    root = tmp_path_factory.mktemp("compare")
    data = write_collection(root / "beir")
    runs = [root / "bm25.trec", root / "bm25_flat.trec", root / "shuffled.csv"]
    common = ["--data.path", str(data), "--progress", "false"]
    assert cli.main(["bm25", *common, "--output", str(runs[0])]) == 0
    assert cli.main(["bm25", *common, "--output", str(runs[1]), "--bm25.k1", "0.2", "--bm25.b", "0.0"]) == 0
    bm25 = pd.read_csv(runs[0], sep=" ", header=None, names=["query_id", "q0", "doc_id", "rank", "score", "tag"])
    shuffled = bm25[~bm25["query_id"].isin(["q0", "q1"])][["query_id", "doc_id"]].copy()
    shuffled["score"] = np.random.default_rng(3).random(len(shuffled)).round(6)
    shuffled.to_csv(runs[2], index=False)
    return data, [str(r) for r in runs]


def run_compare(data, runs, out, **overrides):
    config = {"data": {"path": str(data)}, "runs": runs, "output_dir": str(out), "rounds": ROUNDS, **overrides}
    return compare_main(from_dict(CompareConfig, config))


@pytest.fixture(scope="module")
def compared(setup, tmp_path_factory):
    data, runs = setup
    out = tmp_path_factory.mktemp("out")
    return out, run_compare(data, runs, out)


@pytest.fixture(scope="module")
def evaluated(setup, tmp_path_factory):
    """Each run through ``rankwright evaluate``: name -> (metrics.json, per_query.csv)."""
    data, runs = setup
    found = {}
    for name, run in zip(NAMES, runs, strict=True):
        out = tmp_path_factory.mktemp(f"eval-{name}")
        config = {
            "data": {"path": str(data)},
            "scorer": "run",
            "run": run,
            "output_dir": str(out),
            "report": False,
            "progress": False,
            "eval": {"random_baseline": False},
        }
        evaluate_main(from_dict(EvaluateConfig, config))
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        per_query = pd.read_csv(out / "per_query.csv", dtype={"query_id": str}).set_index("query_id")
        found[name] = (metrics["ranking"][name], per_query)
    return found


def read_json(out):
    return json.loads((out / "compare.json").read_text(encoding="utf-8"))


def read_per_query(out):
    return pd.read_csv(out / "per_query.csv", dtype={"query_id": str}).set_index("query_id")


def run_table(per_query, name):
    """The per-query metric table of one run from per_query.csv's column group."""
    prefix = f"{name}:"
    columns = [c for c in per_query.columns if c.startswith(prefix)]
    return per_query[columns].rename(columns=lambda c: c[len(prefix) :])


def parse_table(text):
    """{(system, subset): {column: cell}} from the printed table (it ends at a blank line)."""
    lines = text.split("\n\n")[0].splitlines()
    header = lines[0].split()
    return {(cells[0], cells[1]): dict(zip(header[2:], cells[2:], strict=True)) for cells in map(str.split, lines[2:])}


def test_table_numbers_equal_evaluate_for_each_run(compared, evaluated):
    out, comparison = compared
    recorded = read_json(out)["ranking"]
    assert list(recorded) == NAMES
    table = parse_table(comparison.table)
    assert sorted(table) == sorted((n, s) for n in NAMES for s in ("all", "informative"))
    for name in NAMES:
        expected, per_query = evaluated[name]
        for subset in ("all", "informative"):
            assert recorded[name][subset] == pytest.approx(expected[subset], abs=1e-12), (name, subset)
            row = table[(name, subset)]
            assert row["n"] == str(expected[subset]["n_queries"])
            for metric in ("ndcg@10", "map", "mrr", "p@10", "recall@100"):
                assert row[metric] == f"{expected[subset][metric]:.4f}", (name, subset, metric)
        mine = run_table(read_per_query(out), name)
        assert mine.index.tolist() == per_query.index.tolist()
        pd.testing.assert_frame_equal(mine, per_query[mine.columns], check_exact=False, atol=1e-12)
    assert 0 < expected["informative"]["n_queries"] < expected["all"]["n_queries"]
    shuffled = recorded["shuffled"]
    assert shuffled["judged_queries_missing_from_run_scored_0"] == 2
    assert shuffled["all"]["ndcg@10"] < recorded["bm25"]["all"]["ndcg@10"]


def test_paired_tests_equal_paired_comparison_from_per_query_csv(compared):
    out, comparison = compared
    per_query = read_per_query(out)
    recorded = read_json(out)["comparisons"]
    assert [(c["system"], c["metric"]) for c in recorded] == [
        (n, m) for n in ("bm25_flat", "shuffled") for m in ("ndcg@10", "map")
    ]
    base = run_table(per_query, "bm25")
    for c in recorded:
        assert c["baseline"] == "bm25"
        expected = paired_comparison(run_table(per_query, c["system"]), base, c["metric"], rounds=ROUNDS, seed=0)
        assert (c["wins"], c["ties"], c["losses"], c["queries"]) == (
            expected["wins"],
            expected["ties"],
            expected["losses"],
            20,
        )
        for key in ("mean_difference", "t_test_p", "randomisation_p"):
            assert c[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), (c["system"], c["metric"], key)
    shuffled = next(c for c in recorded if c["system"] == "shuffled" and c["metric"] == "ndcg@10")
    assert shuffled["losses"] > shuffled["wins"] and shuffled["t_test_p"] < 0.05
    assert shuffled["randomisation_p"] < 0.05
    flat = next(c for c in recorded if c["system"] == "bm25_flat" and c["metric"] == "ndcg@10")
    assert flat["wins"] + flat["losses"] > 0  # the parameters change some rankings
    text = comparison.comparison.splitlines()
    assert len(text) == 4 and text[2].startswith("shuffled vs bm25 (ndcg@10, 20 queries)")
    assert f"wins/ties/losses {shuffled['wins']}/{shuffled['ties']}/{shuffled['losses']}" in text[2]


def test_html_has_sections_tables_and_decodable_figure(compared):
    out, _ = compared
    page = (out / "compare.html").read_text(encoding="utf-8")
    assert re.findall(r'<h2 id="([^"]+)"', page) == SECTIONS
    for external in ("<script", "<link", "http://", "https://", "url("):
        assert external not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    png = base64.b64decode(sources[0].split(",", 1)[1])
    assert png == (out / "figures" / "differences.png").read_bytes()
    pixels = imread(io.BytesIO(png))
    assert pixels.ndim == 3 and pixels.shape[0] >= 300 and pixels.shape[1] >= 600 and pixels.std() > 0.01
    recorded = read_json(out)
    cells = re.findall(
        r'data-run="([^"]+)" data-subset="([^"]+)" data-metric="([^"]+)">([^<\s]+)'
        r'(?: <span class="delta[^"]*">\(([^)]+)\))?',
        page,
    )
    assert len(cells) == 3 * 2 * 6
    ranking = recorded["ranking"]
    for run, subset, metric, value, delta in cells:
        assert value == f"{ranking[run][subset][metric]:.4f}"
        if run == "bm25":
            assert delta == ""
        else:
            assert float(delta) == pytest.approx(
                ranking[run][subset][metric] - ranking["bm25"][subset][metric], abs=6e-5
            )
    rows = re.findall(r'<tr class="paired" data-run="([^"]+)" data-metric="([^"]+)">(.*?)</tr>', page)
    assert len(rows) == 4
    for (run, metric, row), c in zip(rows, recorded["comparisons"], strict=True):
        assert (run, metric) == (c["system"], c["metric"])
        fields = dict(re.findall(r'data-field="([^"]+)">([^<]+)<', row))
        assert fields["wins"] == str(c["wins"]) and fields["losses"] == str(c["losses"])
        assert fields["t_test_p"] == f"{c['t_test_p']:.4f}"
        assert fields["randomisation_p"] == f"{c['randomisation_p']:.4f}"


def test_cli_takes_positional_runs_like_the_runs_flag(setup, compared, tmp_path, capsys, caplog):
    data, runs = setup
    out = tmp_path / "cli"
    rc = cli.main(["compare", *runs, "--data.path", str(data), "--output_dir", str(out), "--rounds", str(ROUNDS)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "paired tests against the baseline bm25" in printed and "shuffled vs bm25 (map, 20 queries)" in printed
    assert str(out / "compare.html") in printed
    flag = read_json(compared[0])
    positional = read_json(out)
    assert positional["ranking"] == flag["ranking"] and positional["comparisons"] == flag["comparisons"]
    both = cli.main(["compare", runs[0], "--runs", ",".join(runs), "--data.path", str(data)])
    assert both == 2
    assert "give runs as positional arguments or as --runs, not both" in caplog.text


def test_other_baseline_and_names(setup, tmp_path):
    data, runs = setup
    result = run_compare(data, runs[1:], tmp_path / "out", names=["flat", "random"], baseline=1, report=False)
    recorded = read_json(tmp_path / "out")
    assert recorded["baseline"] == "random" and list(recorded["ranking"]) == ["flat", "random"]
    assert [(c["system"], c["baseline"]) for c in recorded["comparisons"]] == [("flat", "random")] * 2
    assert result.comparisons[0]["wins"] > result.comparisons[0]["losses"]
    assert not (tmp_path / "out" / "compare.html").exists()
    assert list(read_per_query(tmp_path / "out").columns[:4]) == ["query", "n_judged", "n_relevant", "informative"]


def test_errors_are_clear(setup, tmp_path):
    data, runs = setup
    with pytest.raises(ValueError, match="at least two runs, got 1"):
        run_compare(data, runs[:1], tmp_path / "a")
    with pytest.raises(FileNotFoundError, match=r"run 2 \(.*missing\.trec\) does not exist"):
        run_compare(data, [runs[0], str(tmp_path / "missing.trec")], tmp_path / "b")
    stranger = tmp_path / "stranger.trec"
    stranger.write_text("x1 Q0 d1 1 2.0 t\nx2 Q0 d2 1 1.0 t\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"run 'stranger' \(.*stranger\.trec\) has no query of the qrels.*x1"):
        run_compare(data, [runs[0], str(stranger)], tmp_path / "c")
    with pytest.raises(ValueError, match="baseline must be a run index from 0 to 1, got 2"):
        run_compare(data, runs[:2], tmp_path / "d", baseline=2)
    with pytest.raises(ValueError, match="one name per run"):
        run_compare(data, runs, tmp_path / "e", names=["a", "b"])
    assert not any((tmp_path / d).exists() for d in "abcde")
