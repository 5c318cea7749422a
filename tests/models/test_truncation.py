"""Warnings about cut pairs: each call of a head warns for itself, and inside a run
(``cut_warnings_once``, a training run) each warning is logged once, at the end, with the
run's total."""

from __future__ import annotations

import logging

from transformers import AutoTokenizer

from rankwright.models.cross_encoder import CrossEncoderHead
from rankwright.models.truncation import cut_warnings_once

LONG_QUERY = "one two three four five six seven eight nine ten eleven twelve"
MESSAGE = "queries leave no room for a document in max_length=8"


def _cut_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if MESSAGE in r.getMessage()]


def test_cut_warnings_are_one_per_call_outside_a_run_and_one_per_run_inside(tiny_bert, caplog):
    head = CrossEncoderHead(AutoTokenizer.from_pretrained(tiny_bert), max_length=8)
    with caplog.at_level(logging.WARNING, logger="rankwright"):
        head.encode([LONG_QUERY, LONG_QUERY, "short"], ["a document", "another", "x"])
        head.encode([LONG_QUERY], ["a document"])
    assert [m.split(" queries")[0] for m in _cut_warnings(caplog)] == ["2", "1"]
    caplog.clear()

    @cut_warnings_once()
    def run(batches: int) -> None:
        before = len(_cut_warnings(caplog))
        for _ in range(batches):
            head.encode([LONG_QUERY, LONG_QUERY, "short"], ["a document", "another", "x"])
        assert len(_cut_warnings(caplog)) == before  # nothing until the run ends

    with caplog.at_level(logging.WARNING, logger="rankwright"):
        run(5)
        run(2)
        head.encode(["short"], ["x"])
    assert _cut_warnings(caplog) == [
        f"in all batches of this run, {n} {MESSAGE}; they are cut (to half the room at most when the document is long)"
        for n in (10, 4)
    ]
