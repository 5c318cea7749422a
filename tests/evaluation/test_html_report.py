"""report.html written by ``rankwright evaluate``: its sections, embedded PNG figures
(also in figures/), baseline deltas, the worst-queries table, escaping, class
schemes and retrieve mode, each checked on a small real evaluation."""

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
from rankwright.commands.evaluate import EvaluateConfig
from rankwright.commands.evaluate import main as evaluate_main
from rankwright.config import from_dict
from rankwright.evaluation.calibration import expected_calibration_error

RERANK_SECTIONS = ["summary", "metrics", "scores", "binary", "per-query", "worst", "calibration"]


def run_evaluate(data, out, **overrides):
    config = {"data": {"path": str(data)}, "output_dir": str(out), "progress": False, **overrides}
    return evaluate_main(from_dict(EvaluateConfig, config))


def probability_run(data, path, seed=0):
    """Random scores in [0, 1] for every judged pair: a run that differs from BM25."""
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"query_id": [r["query_id"] for r in rows], "doc_id": [r["doc_id"] for r in rows]})
    table["score"] = rng.random(len(table)).round(6)
    table.to_csv(path, index=False)
    return path


def read_page(out):
    return (out / "report.html").read_text(encoding="utf-8")


def section_ids(page):
    return re.findall(r'<h2 id="([^"]+)"', page)


def embedded_pngs(page):
    return [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([^"]*)"', page)]


def worst_rows(page):
    found = re.findall(r'class="worst-query" data-query-id="([^"]*)" data-value="([^"]*)"', page)
    return [(qid, float(value)) for qid, value in found]


def delta_cells(page):
    cells = re.findall(r'data-subset="([^"]+)" data-metric="([^"]+)">([^<]+)</td>', page)
    return {(subset, metric): float(value) for subset, metric, value in cells}


@pytest.fixture(scope="module")
def data_file(tmp_path_factory, write_pointwise):
    return write_pointwise(tmp_path_factory.mktemp("data") / "pointwise.jsonl", n_queries=30)


@pytest.fixture(scope="module")
def bm25_eval(data_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("bm25")
    return out, run_evaluate(data_file, out)


@pytest.fixture(scope="module")
def probs_eval(data_file, tmp_path_factory):
    """A probability run evaluated with BM25 as the baseline."""
    out = tmp_path_factory.mktemp("probs")
    run = probability_run(data_file, out.parent / "probs.csv")
    return out, run_evaluate(data_file, out, scorer="run", run=str(run), baseline="bm25")


def test_rerank_report_has_every_section_in_order(bm25_eval):
    out, evaluation = bm25_eval
    assert evaluation.paths["report"] == str(out / "report.html")
    page = read_page(out)
    assert section_ids(page) == RERANK_SECTIONS  # no classes section for a graded scheme
    for sid in RERANK_SECTIONS:
        assert f'href="#{sid}"' in page


def test_embedded_images_are_pngs_and_match_the_figure_files(bm25_eval):
    out, _ = bm25_eval
    pngs = embedded_pngs(read_page(out))
    files = {p.name: p.read_bytes() for p in (out / "figures").iterdir()}
    assert sorted(files) == ["per_query.png", "pr.png", "roc.png", "scores.png"]
    assert sorted(pngs) == sorted(files.values())
    for png in pngs:
        pixels = imread(io.BytesIO(png))
        assert pixels.ndim == 3 and pixels.shape[0] >= 250 and pixels.shape[1] >= 400
        assert pixels.std() > 0.01  # something is drawn


def test_report_is_self_contained(bm25_eval):
    page = read_page(bm25_eval[0])
    for external in ("<script", "<link", "http://", "https://", "url("):
        assert external not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)


def test_bm25_scores_are_not_drawn_as_probabilities(bm25_eval):
    out, _ = bm25_eval
    calibration = read_page(out).split('<h2 id="calibration">')[1]
    assert "not probabilities" in calibration and "<img" not in calibration
    assert not (out / "figures" / "reliability.png").exists()


def test_baseline_deltas_are_system_minus_baseline(probs_eval, bm25_eval):
    out, _ = probs_eval
    system = json.loads((out / "metrics.json").read_text())["ranking"]["probs"]
    # The baseline's numbers from its own evaluation (BM25 on the same data).
    baseline = json.loads((bm25_eval[0] / "metrics.json").read_text())["ranking"]["bm25"]
    deltas = delta_cells(read_page(out))
    metrics = [m for m in system["all"] if m != "n_queries"]
    assert set(deltas) == {(s, m) for s in ("all", "informative") for m in metrics}
    for (subset, metric), delta in deltas.items():
        assert delta == pytest.approx(system[subset][metric] - baseline[subset][metric], abs=6e-5), (subset, metric)
    assert any(abs(d) > 0.01 for d in deltas.values())
    recorded = json.loads((out / "metrics.json").read_text())["baseline"]
    assert recorded["system"] == "bm25" and recorded["source"] == "bm25"
    assert recorded["ranking"]["all"]["ndcg@10"] == pytest.approx(baseline["all"]["ndcg@10"], abs=1e-12)


def test_no_delta_column_without_a_baseline(bm25_eval):
    page = read_page(bm25_eval[0])
    assert delta_cells(page) == {} and "baseline" not in page


def test_worst_queries_ascending_with_their_top_documents(probs_eval):
    out, _ = probs_eval
    rows = worst_rows(read_page(out))
    per_query = pd.read_csv(out / "per_query.csv", dtype={"query_id": str}).set_index("query_id")["ndcg@10"]
    assert len(rows) == 20
    values = [v for _, v in rows]
    assert values == sorted(values)
    assert values == pytest.approx(sorted(per_query)[:20], abs=1e-6)  # the 20 lowest
    for qid, value in rows:
        assert value == pytest.approx(per_query[qid], abs=1e-6)
    run = pd.read_csv(out / "run.trec", sep=" ", header=None, names=["q", "q0", "d", "rank", "s", "tag"], dtype=str)
    page = read_page(out)
    for qid, _ in rows:
        listed = re.findall(rf'class="doc" data-query-id="{qid}" data-doc-id="([^"]*)"', page)
        assert listed == run[run["q"] == qid]["d"].head(5).tolist(), qid


def test_reliability_diagram_for_probability_scores(probs_eval):
    out, _ = probs_eval
    page = read_page(out)
    assert section_ids(page) == RERANK_SECTIONS
    assert (out / "figures" / "reliability.png").exists()
    pred = pd.read_parquet(out / "predictions.parquet")
    ece = expected_calibration_error(pred["score"].to_numpy(), pred["relevant"].to_numpy())
    assert re.search(r'<span id="ece">([0-9.]+)</span>', page).group(1) == f"{ece:.4f}"
    assert len(embedded_pngs(page)) == 5


def test_text_is_escaped_and_all_queries_listed_when_fewer_than_20(tmp_path, write_pointwise, capsys):
    data = write_pointwise(tmp_path / "data.jsonl", n_queries=8)
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        if row["query_id"] == "q0":
            row["query"] = "drill <script>alert('x')</script> & co"
            row["doc"] = row["doc"] + " <b>bold</b>"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    argv = ["evaluate", "--data.path", str(data), "--output_dir", str(tmp_path / "out"), "--progress", "false"]
    assert cli.main(argv) == 0
    assert f"report: {tmp_path / 'out' / 'report.html'}" in capsys.readouterr().out
    page = read_page(tmp_path / "out")
    assert "<script" not in page and "<b>bold" not in page
    assert "drill &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert sorted(q for q, _ in worst_rows(page)) == sorted(f"q{i}" for i in range(8))


def test_report_can_be_turned_off(tmp_path, write_pointwise):
    data = write_pointwise(tmp_path / "data.jsonl", n_queries=4)
    evaluation = run_evaluate(data, tmp_path / "out", report=False)
    assert "report" not in evaluation.paths
    assert not (tmp_path / "out" / "report.html").exists() and not (tmp_path / "out" / "figures").exists()
    assert (tmp_path / "out" / "metrics.json").exists()


ESCI_CSV = """\
query_id,query,product_id,item_text,esci_label
1,usb cable,P1,usb c cable 2m,E
1,usb cable,P2,usb a cable,S
1,usb cable,P3,cable ties,C
1,usb cable,P4,hdmi adapter,I
2,phone case,P1,usb c cable 2m,I
2,phone case,P5,phone case clear,E
2,phone case,P6,phone screen protector,S
"""

ESCI_PREDICTIONS = """\
query_id,doc_id,score,pred_class
1,P1,0.9,E
1,P2,0.4,E
1,P3,0.4,S
1,P4,0.1,I
2,P1,0.8,S
2,P5,0.7,E
2,P6,0.2,C
"""


def test_class_scheme_shows_the_confusion_matrix(tmp_path):
    (tmp_path / "esci.csv").write_text(ESCI_CSV, encoding="utf-8")
    (tmp_path / "preds.csv").write_text(ESCI_PREDICTIONS, encoding="utf-8")
    out = tmp_path / "out"
    run_evaluate(tmp_path / "esci.csv", out, scorer="run", run=str(tmp_path / "preds.csv"))
    page = read_page(out)
    assert section_ids(page) == [*RERANK_SECTIONS[:4], "classes", *RERANK_SECTIONS[4:]]
    classes = page.split('<h2 id="classes">')[1].split("</section>")[0]
    assert "4-class accuracy 0.4286" in classes and 'id="fig-confusion"' in classes
    assert "E (n=2), S (n=2), C (n=1), I (n=2)" in page  # score distribution in class order
    confusion = (out / "figures" / "confusion.png").read_bytes()
    assert confusion in embedded_pngs(page)
    assert imread(io.BytesIO(confusion)).shape[0] >= 250


def test_retrieve_mode_report_lists_corpus_documents(tmp_path):
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": f"d{i}", "title": f"title {i}", "text": f"lamp text {i}"} for i in range(1, 6)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    queries = [{"_id": "q1", "text": "lamp 1"}, {"_id": "q2", "text": "title 3"}]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\nq2\td3\t1\nq2\td4\t0\n"
    (folder / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    out = tmp_path / "out"
    evaluation = run_evaluate(folder, out)
    assert evaluation.predictions is None
    page = read_page(out)
    assert section_ids(page) == RERANK_SECTIONS  # the pair sections say why they are empty
    for sid in ("scores", "binary", "calibration"):
        assert "Retrieve mode" in page.split(f'<h2 id="{sid}">')[1].split("</section>")[0]
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["per_query.png"]
    assert sorted(q for q, _ in worst_rows(page)) == ["q1", "q2"]
    docs = re.findall(r'data-query-id="q1" data-doc-id="(d\d)"><td>\d</td><td>d\d</td><td>([^<]*)</td>', page)
    assert docs and all(f"lamp text {d[1:]}" in text for d, text in docs)
    assert any(d not in ("d1", "d2") for d, _ in docs)  # unjudged corpus documents are listed too
