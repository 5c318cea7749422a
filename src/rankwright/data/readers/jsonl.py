"""Line-by-line JSONL reading with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rankwright.data.records import DataError


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; malformed lines raise."""
    source = str(path)
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                problem = err.msg.removesuffix(" at")  # "Unterminated string starting at", "Invalid ... at"
                raise DataError(source, f"malformed JSON at column {err.colno}: {problem}", line=lineno) from None
            if not isinstance(obj, dict):
                raise DataError(source, f"expected a JSON object, got {type(obj).__name__}", line=lineno)
            yield lineno, obj


def first_jsonl_record(path: str | Path) -> dict[str, Any] | None:
    for _, obj in iter_jsonl(path):
        return obj
    return None
