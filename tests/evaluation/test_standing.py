"""A system against its baselines on hand-made per-query tables: paired tests, the
deltas under the table, and a warning only below random order or BM25."""

from __future__ import annotations

import pandas as pd

from rankwright.evaluation.standing import below_warning, format_deltas, format_line, p_value, standing


def table(values: list[float], metric: str = "ndcg@10") -> pd.DataFrame:
    frame = pd.DataFrame({metric: values}, index=pd.Index([f"q{i}" for i in range(len(values))], name="query_id"))
    return frame


def summary(frame: pd.DataFrame) -> dict:
    return {"all": {"n_queries": len(frame), "ndcg@10": float(frame["ndcg@10"].mean())}}


SYSTEM = table([0.5, 0.6, 0.4, 0.5, 0.7, 0.3])
WORSE = table([0.4, 0.5, 0.3, 0.4, 0.6, 0.2])
BETTER = table([0.9, 0.8, 0.9, 0.8, 0.9, 0.8])


def test_a_warning_for_each_of_random_order_and_bm25_the_system_is_below():
    s = standing("sys", SYSTEM, {"random": WORSE, "bm25": BETTER, "other": BETTER}, "ndcg@10", "evaluated queries")
    assert [c["baseline"] for c in s.comparisons] == ["random", "bm25", "other"]
    bm25 = s.comparisons[1]
    assert (bm25["wins"], bm25["ties"], bm25["losses"]) == (0, 0, 6) and bm25["mean_difference"] < 0
    # a run given as the baseline is tested but never warned about; random order is below the system
    assert len(s.warnings) == 1
    assert s.warnings[0].startswith("WARNING: sys's ndcg@10 (0.5000) is below BM25's (0.8500) on the 6 evaluated ")
    assert (
        f"paired t-test p {p_value(bm25['t_test_p'])}, randomisation p {p_value(bm25['randomisation_p'])}"
        in (s.warnings[0])
    )
    below_random = standing("sys", WORSE, {"random": SYSTEM}, "ndcg@10", "validation queries")
    assert "below random order's (0.5000) on the 6 validation queries: -0.1000" in below_random.warnings[0]


def test_no_warning_when_level_with_or_above_the_baselines():
    s = standing("sys", SYSTEM, {"random": WORSE, "bm25": SYSTEM.copy()}, "ndcg@10", "evaluated queries")
    assert s.warnings == [] and s.comparisons[1]["t_test_p"] == 1.0


def test_deltas_and_line():
    s = standing("sys", SYSTEM, {"random": WORSE, "bm25": BETTER}, "ndcg@10", "evaluated queries")
    summaries = {"sys": summary(SYSTEM), "random": summary(WORSE), "bm25": summary(BETTER)}
    lines = format_deltas(s, summaries, ["ndcg@10", "map"]).splitlines()
    assert lines[0].startswith("sys minus each baseline (all 6 evaluated queries;")
    assert lines[1].split() == ["baseline", "ndcg@10", "wins/ties/losses", "t-test", "p", "randomisation", "p"]
    assert lines[2].split()[:3] == ["random", "+0.1000", "6/0/0"]
    assert lines[3].split()[:3] == ["bm25", "-0.3500", "0/0/6"]
    line = format_line(s)
    assert line.startswith("ndcg@10 on the 6 evaluated queries: sys 0.5000; random order 0.4000 (difference +0.1000")
    assert "BM25 0.8500 (difference -0.3500, paired t-test p " in line


def test_wording_and_p_values():
    text = below_warning("the reranker", "the first stage", "validation ndcg@10", 0.3, 0.41)
    assert text == "WARNING: the reranker's validation ndcg@10 (0.3000) is below the first stage's (0.4100)"
    assert p_value(0.01234) == "0.0123" and p_value(2e-7) == "2.0e-07" and p_value(float("nan")) == "-"
