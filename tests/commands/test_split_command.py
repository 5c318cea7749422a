"""``rankwright split`` prints what it did: rows in, used and dropped by reason, and
the queries and rows of each split."""

from __future__ import annotations

import json
import re

from rankwright import cli


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
