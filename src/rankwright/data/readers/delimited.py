"""CSV and TSV files (compressed ones too), read with pandas, with errors that name the
file and the fix instead of pandas' own words: an empty file, and a file whose fields
are separated by another character than the one it is read with (a TSV named ``.csv``,
a semicolon CSV): the separator it seems to use is guessed from its first lines."""

from __future__ import annotations

import codecs
import csv
import logging
from pathlib import Path

import pandas as pd

from rankwright.data.records import DataError

log = logging.getLogger(__name__)

#: separators a file may use, by the name the messages give them
SEPARATORS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
#: names ``data.sep`` also accepts (a tab is hard to type in a flag)
SEPARATOR_NAMES = {"comma": ",", "tab": "\t", "\\t": "\t", "semicolon": ";", "pipe": "|"}
SEP_FLAG = "--data.sep"
_HEAD_LINES = 20


def separator(path: Path, sep: str | None) -> str:
    """The field separator: ``sep`` (a character, or comma, tab, semicolon, pipe), else
    a tab for ``.tsv`` files and a comma for others."""
    if not sep:
        return "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    sep = SEPARATOR_NAMES.get(sep.lower(), sep)
    if len(sep) != 1:
        raise ValueError(f"data.sep must be one character or one of {', '.join(SEPARATOR_NAMES)}, got {sep!r}")
    return sep


def read_delimited(
    path: Path, *, sep: str | None = None, encoding: str | None = None, sep_flag: str | None = SEP_FLAG
) -> tuple[pd.DataFrame, list[str]]:
    """A CSV/TSV file as strings (UTF-8, else latin-1 with a note, unless ``encoding``
    is given); returns (frame, notes). ``sep_flag``: the setting a message about the
    separator tells the user to pass (None: the file must be re-saved)."""
    sep = separator(path, sep)
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataError(str(path), f"data.encoding {encoding!r} is not a text encoding Python knows") from None
    try:
        return _read(path, sep, encoding or "utf-8", sep_flag), []
    except UnicodeDecodeError:
        if encoding:
            raise DataError(str(path), f"cannot be decoded as {encoding}") from None
    log.warning("%s is not UTF-8; reading it as latin-1", path)
    return _read(path, sep, "latin-1", sep_flag), [f"{path.name} is not UTF-8; read as latin-1"]


def _read(path: Path, sep: str, encoding: str, sep_flag: str | None) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(str(path), "is empty: no header and no rows") from None
    except pd.errors.ParserError as err:
        problem = _separator_problem(path, sep, encoding, sep_flag)
        if problem is None:
            name = SEPARATORS.get(sep, repr(sep))
            detail = " ".join(str(err).split()).removeprefix("Error tokenizing data. C error: ")
            problem = f"cannot be read as {name}-separated ({detail}); a field with a {name} in it needs double quotes"
        raise DataError(str(path), problem) from None
    if len(frame.columns) == 1:
        problem = _separator_problem(path, sep, encoding, sep_flag)
        if problem is not None:
            raise DataError(str(path), f"has a single column {frame.columns[0]!r}: {problem}")
    return frame


def _separator_problem(path: Path, sep: str, encoding: str, sep_flag: str | None) -> str | None:
    """Which separator the file seems to use instead of ``sep``, and how to read it so."""
    guess = guess_separator(_head(path, encoding), sep)
    if guess is None:
        return None
    name = SEPARATORS[guess]
    if sep_flag is None:
        fix = f"save it {SEPARATORS.get(sep, repr(sep))}-separated"
    elif guess == "\t":
        fix = f"rename it to .tsv or pass {sep_flag} tab"
    else:
        fix = f"pass {sep_flag} '{guess}'"
    return f"it looks {name}-separated, not {SEPARATORS.get(sep, repr(sep))}-separated; {fix}"


def guess_separator(lines: list[str], current: str) -> str | None:
    """The separator of ``lines`` (a header first) other than ``current``, among those
    the header holds: csv's sniffer decides, else the one the header holds most."""
    if not lines:
        return None
    candidates = [s for s in SEPARATORS if s != current and s in lines[0]]
    if not candidates:
        return None
    try:
        guess = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(candidates)).delimiter
    except csv.Error:
        return max(candidates, key=lines[0].count)
    return guess if guess in candidates else max(candidates, key=lines[0].count)


def _head(path: Path, encoding: str) -> list[str]:
    """The first non-blank lines of the file as text (pandas opens compressed files)."""
    try:
        lines = pd.read_csv(
            path,
            sep="\x1e",  # ASCII record separator: absent from text, so a line is one field
            header=None,
            names=["line"],
            quoting=csv.QUOTE_NONE,
            nrows=_HEAD_LINES,
            dtype=str,
            keep_default_na=False,
            encoding=encoding,
            encoding_errors="replace",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return []
    return lines["line"].tolist()
