"""The printed table says what "informative" means, and shows one row per system when
the informative row would repeat the all-queries row."""

from __future__ import annotations

from rankwright.evaluation.report import INFORMATIVE, format_table


def _summary(n: int, informative: int, value: float, informative_value: float) -> dict:
    return {
        "all": {"n_queries": n, "ndcg@10": value, "map": value / 2},
        "informative": {"n_queries": informative, "ndcg@10": informative_value, "map": informative_value / 2},
    }


def _rows(table: str) -> list[tuple[str, str, str]]:
    body = table.split("\n\n")[0].splitlines()[2:]
    return [tuple(line.split()[:3]) for line in body]


def test_both_rows_and_what_informative_means_when_some_queries_are_not():
    table = format_table({"bm25": _summary(10, 7, 0.8, 0.7), "random": _summary(10, 7, 0.6, 0.5)})
    assert _rows(table) == [
        ("bm25", "all", "10"),
        ("bm25", "informative", "7"),
        ("random", "all", "10"),
        ("random", "informative", "7"),
    ]
    assert table.endswith("\n\n" + INFORMATIVE)
    assert "at least one relevant and one non-relevant judged document" in INFORMATIVE


def test_one_row_per_system_when_every_query_is_informative():
    table = format_table({"bm25": _summary(10, 10, 0.8, 0.8), "trained": _summary(10, 10, 0.9, 0.9)})
    assert _rows(table) == [("bm25", "all", "10"), ("trained", "all", "10")]
    assert "0.9000" in table and "0.4500" in table
    assert table.endswith("\n\nall = informative: every query has a relevant and a non-relevant judged document")


def test_one_row_per_system_when_no_query_is_informative():
    nan = float("nan")
    table = format_table({"bm25": _summary(4, 0, 1.0, nan)})
    assert _rows(table) == [("bm25", "all", "4")]
    assert table.endswith("\n\nno query is informative (none has both a relevant and a non-relevant judged document)")
