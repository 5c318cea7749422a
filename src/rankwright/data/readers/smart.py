"""The SMART layout of classic test collections (Cranfield, CACM, CISI, MED, ...).

Records start with ``.I id``; fields follow as ``.T`` (title), ``.A`` (authors),
``.B`` (bibliography), ``.W`` (text), each a marker line followed by its text.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rankwright.data.records import DataError

log = logging.getLogger(__name__)


def smart_id(raw: str) -> str:
    """The id as qrels name it: numeric ids without leading zeros ("001" -> "1")."""
    return str(int(raw)) if raw.isdigit() else raw


def parse_smart(path: str | Path) -> list[tuple[str, dict[str, str]]]:
    """(id, {field letter: text}) in file order. An id repeated (as :func:`smart_id`
    reads it, so "1" and "01" are the same) is a DataError naming both lines."""
    source = str(path)
    records: list[tuple[str, dict[str, str]]] = []
    first_line: dict[str, int] = {}
    fields: dict[str, list[str]] = {}
    current: str | None = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for lineno, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if line.startswith(".I"):
                parts = line.split()
                if len(parts) != 2:
                    raise DataError(source, f"expected '.I <id>', found {line!r}", line=lineno)
                key = smart_id(parts[1])
                if key in first_line:
                    raise DataError(
                        source, f"duplicate .I id {parts[1]!r} (first at line {first_line[key]})", line=lineno
                    )
                first_line[key] = lineno
                fields = {}
                records.append((parts[1], fields))  # type: ignore[arg-type]
                current = None
            elif len(line) == 2 and line[0] == "." and line[1].isalpha():
                if not records:
                    raise DataError(source, f"field {line} before the first .I record", line=lineno)
                current = line[1]
                fields.setdefault(current, [])
            elif current is not None:
                fields[current].append(line)
            elif line.strip():
                raise DataError(source, f"text outside any field: {line[:60]!r}", line=lineno)
    if not records:
        raise DataError(source, "no .I records found")
    return [(rid, {k: " ".join(" ".join(v).split()) for k, v in f.items()}) for rid, f in records]  # type: ignore[union-attr]


def smart_texts(records: list[tuple[str, dict[str, str]]], fields: list[str]) -> dict[str, str]:
    """id -> the chosen fields joined with newlines (e.g. ["T", "W"] = title + abstract)."""
    return {rid: "\n".join(f[k] for k in fields if f.get(k)) for rid, f in records}


def looks_like_smart(path: str | Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(200).lstrip()
    except (OSError, IsADirectoryError):
        return False
    return head.startswith(".I ")
