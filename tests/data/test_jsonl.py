"""Malformed JSONL lines are errors naming the file, the line, the column and the problem."""

from __future__ import annotations

import pytest

from rankwright.data.readers.jsonl import iter_jsonl
from rankwright.data.records import DataError


@pytest.mark.parametrize(
    "line, problem",
    [
        ('{"query": "abc', "malformed JSON at column 11: Unterminated string starting"),
        ('{"query": "a"\t"doc": 1}', "malformed JSON at column 15: Expecting ',' delimiter"),
        ('{"query": "a\tb"}', "malformed JSON at column 13: Invalid control character"),
    ],
)
def test_a_malformed_line_says_where_and_what_once(tmp_path, line, problem):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"query": "q", "doc": "d", "label": 1}\n' + line, encoding="utf-8")  # the last line: no newline
    with pytest.raises(DataError) as err:
        list(iter_jsonl(path))
    assert str(err.value) == f"{path}, line 2: {problem}"
    assert "at at" not in str(err.value)
