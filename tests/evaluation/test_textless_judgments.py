"""Judgments on documents without text stay in the evaluation qrels (they count in
recall and nDCG denominators exactly as trec_eval counts them) while the document is
left out of the corpus, the pairs, training and scoring, with the count reported; on
Cranfield every per-query R@100, MAP and nDCG equals pytrec_eval on the official qrels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pytrec_eval

from rankwright import cli
from rankwright.commands.evaluate import EvaluateConfig
from rankwright.commands.evaluate import main as evaluate_main
from rankwright.config import from_dict

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
CRANFIELD_GAINS = {1: 4, 2: 3, 3: 2, 4: 1, -1: 0}
MEASURES = {"recall@100": "recall_100", "map": "map", "ndcg": "ndcg", "ndcg@10": "ndcg_cut_10"}


def read_trec_run(path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        qid, _, docid, _, score, _ = line.split()
        run.setdefault(qid, {})[docid] = float(score)
    return run


def trec_eval(qrels, run) -> pd.DataFrame:
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"recall.100", "map", "ndcg", "ndcg_cut.10"})
    values = evaluator.evaluate(run)
    frame = pd.DataFrame({ours: {q: v[theirs] for q, v in values.items()} for ours, theirs in MEASURES.items()})
    return frame.reindex(sorted(qrels)).fillna(0.0)


@pytest.fixture
def collection(tmp_path, write_beir, textless_collection):
    """Three queries; d5 is empty and judged relevant (grade 2) for q1 and q2."""
    docs, queries, judged = textless_collection
    folder = write_beir(tmp_path / "beir", docs, queries, judged)
    qrels: dict[str, dict[str, int]] = {}
    for q, d, g in judged:
        qrels.setdefault(q, {})[d] = g
    return folder, qrels


@pytest.mark.parametrize("mode", ["retrieve", "rerank"])
def test_empty_document_counts_in_denominators_but_is_never_scored(collection, tmp_path, capsys, mode):
    folder, qrels = collection
    out = tmp_path / mode
    argv = ["evaluate", "--data.path", str(folder), "--mode", mode, "--output_dir", str(out), "--progress", "false"]
    assert cli.main([*argv, "--report", "false"]) == 0
    assert "data: 2 judgment(s) on documents without text kept for evaluation only" in capsys.readouterr().out
    run = read_trec_run(out / "run.trec")
    assert all("d5" not in docs for docs in run.values())  # never retrieved or scored
    per_query = pd.read_csv(out / "per_query.csv", index_col="query_id").sort_index()
    expected = trec_eval(qrels, run)
    for metric in MEASURES:
        np.testing.assert_allclose(per_query[metric], expected[metric], atol=1e-12, err_msg=metric)
    assert per_query.loc["q1", "n_judged"] == 4 and per_query.loc["q1", "n_relevant"] == 3
    assert per_query.loc["q2", "recall@100"] == 0.5  # d3 found, d5 judged relevant but unreachable
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["evaluation_only"] == 2
    if mode == "rerank":  # the judged pairs scored, without the empty document
        predictions = pd.read_parquet(out / "predictions.parquet")
        assert len(predictions) == 7 and "d5" not in set(predictions["doc_id"])


def test_the_test_split_keeps_its_own_textless_judgments(collection, tmp_path):
    folder, _ = collection
    config = {"data": {"path": str(folder)}, "output_dir": str(tmp_path), "report": False, "progress": False}
    config["split"] = {"ratios": [0, 0, 1]}
    config["subset"] = "test"
    evaluation = evaluate_main(from_dict(EvaluateConfig, config))
    assert evaluation.per_query.loc["q2", "n_judged"] == 3


def test_cranfield_per_query_metrics_equal_pytrec_eval_on_the_official_qrels(shared_data, tmp_path):
    folder = shared_data / "cranfield"
    if not (folder / "cranqrel").is_file():
        pytest.skip(f"{folder} has no cranqrel")
    out = tmp_path / "cranfield"
    argv = ["evaluate", "--config", str(CONFIGS / "cranfield_bm25.yaml"), "--data.path", str(folder)]
    argv += ["--output_dir", str(out), "--report", "false", "--progress", "false", "--eval.random_baseline", "false"]
    assert cli.main(argv) == 0
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "cranqrel").read_text().splitlines():
        if line.split():
            q, d, grade = line.split()[:3]
            qrels.setdefault(q, {})[d] = CRANFIELD_GAINS[int(grade)]
    assert sum(len(d) for d in qrels.values()) == 1837
    run = read_trec_run(out / "run.trec")
    assert not {"471", "995"} & {d for docs in run.values() for d in docs}
    per_query = pd.read_csv(out / "per_query.csv", index_col="query_id", dtype={"query_id": str}).sort_index()
    expected = trec_eval(qrels, run)
    assert len(per_query) == len(expected) == 225
    for metric in MEASURES:
        np.testing.assert_allclose(per_query[metric], expected[metric], atol=1e-4, err_msg=metric)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["evaluation_only"] == 1 and metrics["data"]["rows_dropped"] == 0
    summary = metrics["ranking"][metrics["system"]]["all"]
    for metric in MEASURES:
        assert summary[metric] == pytest.approx(expected[metric].mean(), abs=1e-4)
    # Without the judgment of the empty document 995, query 125's recall would differ.
    del qrels["125"]["995"]
    assert expected.loc["125", "recall@100"] != pytest.approx(trec_eval(qrels, run).loc["125", "recall@100"])
