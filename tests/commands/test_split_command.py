"""``rankwright split`` prints what it did: rows in, used and dropped by reason, and
the queries and rows of each split; a collection's judgments on documents without
text go to the qrels of their split, so a re-read split evaluates as the original."""

from __future__ import annotations

import json
import logging
import re

import pandas as pd

from rankwright import cli
from rankwright.commands.configs import EvaluateConfig
from rankwright.commands.evaluate import main as evaluate_main
from rankwright.config import from_dict


def test_split_prints_rows_dropped_and_counts_per_split(tmp_path, capsys):
    lines = ["query,doc,label"]
    lines += [f"query {q},document {q}-{d},{d % 2}" for q in range(20) for d in range(3)]
    lines += ["query 0,document 0-0,0", ",orphan document,1", "query 1,,1"]  # a repeat, no query, no document
    data = tmp_path / "pairs.csv"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "split"
    argv = ["split", "--data.path", str(data), "--output_dir", str(out), "--split.ratios", "0.5,0.25,0.25"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert f"data: {data}: 63 rows in = 60 used + 3 dropped (" in printed
    assert "duplicate pair (same label, merged): 1" in printed
    assert "empty document: 1" in printed and "empty query: 1" in printed
    assert "ratios [0.5, 0.25, 0.25], seed 42" in printed
    summary = json.loads((out / "split.json").read_text())
    counted = {}
    for name in ("train", "val", "test"):
        match = re.search(rf"^  {name}\s+(\d+) queries\s+(\d+) rows  (\S+)$", printed, flags=re.M)
        assert match, name
        counted[name] = (int(match[1]), int(match[2]))
        assert match[3] == str(out / f"{name}.parquet")
        assert counted[name] == (summary["splits"][name]["queries"], summary["splits"][name]["pairs"])
    assert sum(q for q, _ in counted.values()) == 20 and sum(r for _, r in counted.values()) == 60
    assert f"summary: {out / 'split.json'}" in printed


def _textless_collection(tmp_path, write_beir, textless, *, only_textless: bool = False):
    """A BEIR folder of four queries (conftest's ``textless_collection`` and q4); d5 has
    no text and is judged relevant for q1 and q2 (evaluation only); ``only_textless``:
    and for q5, which has no other judgment."""
    docs, queries, judged = textless
    queries, judged = {**queries, "q4": "lamp cover"}, [*judged, ("q4", "d6", 1), ("q4", "d4", 0)]
    if only_textless:
        queries["q5"] = "shade"
        judged.append(("q5", "d5", 1))
    return write_beir(tmp_path / "beir", docs, queries, judged)


def _evaluate(path, out, *, ratios=None):
    config = {"data": {"path": str(path)}, "output_dir": str(out), "report": False, "progress": False}
    config["eval"] = {"random_baseline": False}
    if ratios is not None:
        config["split"] = {"ratios": ratios}
        config["subset"] = "test"
    return evaluate_main(from_dict(EvaluateConfig, config))


def test_split_keeps_evaluation_only_judgments_in_the_qrels_of_their_split(
    tmp_path, write_beir, textless_collection, capsys, caplog
):
    folder = _textless_collection(tmp_path, write_beir, textless_collection, only_textless=True)
    out = tmp_path / "split"
    argv = ["split", "--data.path", str(folder), "--output_dir", str(out), "--split.ratios", "1,1,1"]
    with caplog.at_level(logging.INFO, logger="rankwright"):
        assert cli.main(argv) == 0
    capsys.readouterr()
    # q5 has no pair, so no split: its judgment is counted, not silently lost
    assert "1 judgment(s) on documents without text are of queries with no judged pair" in caplog.text
    summary = json.loads((out / "split.json").read_text())
    written = 0
    for name in ("train", "val", "test"):
        qrels = pd.read_csv(out / "qrels" / f"{name}.tsv", sep="\t", dtype=str)
        queries = set(pd.read_parquet(out / f"{name}.parquet")["query_id"])
        assert set(qrels["query-id"]) == queries
        textless = qrels[qrels["corpus-id"] == "d5"]
        assert sorted(textless["query-id"]) == sorted({"q1", "q2"} & queries)
        assert (textless["score"].astype(float) == 2).all()
        assert summary["splits"][name]["evaluation_only"] == len(textless)
        written += len(textless)
    assert written == 2 and summary["evaluation_only_in_no_split"] == 1
    assert "judgment(s) on documents without text kept for evaluation only (not trained on or scored), written to" in (
        caplog.text
    )
    # d5 is in corpus.jsonl without text, so reading the folder back keeps its judgments for evaluation only
    corpus = [json.loads(line) for line in (out / "corpus.jsonl").read_text().splitlines()]
    assert {"_id": "d5", "title": "", "text": ""} in corpus


def test_a_re_read_split_evaluates_as_the_original_collection(tmp_path, write_beir, textless_collection, capsys):
    folder = _textless_collection(tmp_path, write_beir, textless_collection)
    out = tmp_path / "split"
    argv = ["split", "--data.path", str(folder), "--output_dir", str(out), "--split.ratios", "0,0,1"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    original = _evaluate(folder, tmp_path / "original", ratios=[0, 0, 1])
    reread = _evaluate(out, tmp_path / "reread")  # qrels/test.tsv of the split folder
    assert reread.metrics["data"]["evaluation_only"] == original.metrics["data"]["evaluation_only"] == 2
    assert reread.metrics["data"]["rows_dropped"] == 0
    assert original.per_query.loc["q2", "n_judged"] == reread.per_query.loc["q2", "n_judged"] == 3
    assert original.per_query.loc["q1", "n_relevant"] == reread.per_query.loc["q1", "n_relevant"] == 3
    columns = [c for c in original.per_query.columns if c != "query"]
    pd.testing.assert_frame_equal(
        original.per_query[columns].sort_index(), reread.per_query[columns].sort_index(), check_dtype=False
    )


def test_labels_the_scheme_cannot_read_fail_before_anything_is_written(tmp_path, caplog):
    data = tmp_path / "esci.csv"
    data.write_text("query,doc,label\nusb cable,cable,E\nusb cable,hub,X\ndesk lamp,lamp,S\n")
    out = tmp_path / "split"
    argv = ["split", "--data.path", str(data), "--output_dir", str(out)]
    classes = ["--labels.scheme", "classes", "--labels.gains", '{"E": 3, "S": 2, "C": 1, "I": 0}']
    assert cli.main([*argv, *classes]) == 2
    assert "'X'" in caplog.text and not (out / "train.parquet").exists()
    assert cli.main([*argv, *classes[:3], '{"E": 3, "S": 2, "C": 1, "I": 0, "X": 0}']) == 0
    assert json.loads((out / "split.json").read_text())["labels"]["scheme"] == "classes"
