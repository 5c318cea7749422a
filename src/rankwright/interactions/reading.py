"""The interactions table as a Dask frame: csv/tsv (with or without a header, MovieLens
``u.data`` included) or parquet (one file or a partitioned folder), never collected
into one pandas frame.

Every partition is brought to the canonical columns (:data:`USER`, :data:`ITEM`,
:data:`RATING`, :data:`TIMESTAMP`) by :func:`clean_partition`, which drops unusable
rows and counts them by reason with a few examples naming the file and the row's
values (a Dask partition does not know its line numbers in the file).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd

from rankwright.data.records import DataError
from rankwright.interactions.sections import FORMATS, ITEM, RATING, TIMESTAMP, USER, InteractionsConfig

INTERACTION_COLUMNS = [USER, ITEM, RATING, TIMESTAMP]

#: MovieLens ``u.data``: tab separated, no header.
MOVIELENS_DATA_NAMES = ["user_id", "item_id", "rating", "timestamp"]
MAX_EXAMPLES = 3


@dataclass(frozen=True)
class TableLayout:
    """How to parse a csv/tsv or parquet table: resolved from a config's format."""

    format: str
    sep: str
    header: bool
    names: tuple[str, ...] | None


def detect_format(path: str) -> str:
    """csv, tsv, parquet or movielens from the path; raises naming the path otherwise."""
    p = Path(path)
    name = p.name.lower()
    if p.is_dir() or ".parquet" in [s.lower() for s in p.suffixes]:
        return "parquet"
    if name == "u.data" or name.endswith((".base", ".test")):
        return "movielens"
    if name.endswith((".tsv", ".tsv.gz")):
        return "tsv"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise DataError(path, f"cannot tell the format from the name; set format to one of {', '.join(FORMATS[1:])}")


def resolve_layout(
    path: str, fmt: str, sep: str | None, header: bool | None, names: list[str] | None, preset: list[str]
) -> TableLayout:
    """The parse settings of a table: the format's defaults below the explicit options."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "movielens":
        default_sep, default_header, default_names = ("\t", False, preset)
    else:
        default_sep, default_header, default_names = ("\t" if fmt == "tsv" else ",", True, None)
    use_names = names or default_names
    if sep is not None and sep.lower() in ("\\t", "tab"):  # a tab is hard to type as a flag
        sep = "\t"
    return TableLayout(
        fmt,
        sep if sep is not None else default_sep,
        header if header is not None else default_header,
        tuple(use_names) if use_names else None,
    )


def check_columns(source: str, present: list[str], wanted: dict[str, str | None]) -> None:
    """Raise naming the file, the missing column, its option and the columns present."""
    for option, column in wanted.items():
        if column is not None and column not in present:
            hint = "; set it to none for implicit data" if option == "rating" else ""
            hint = "; set it to none if there is no time column" if option == "timestamp" else hint
            raise DataError(source, f"no column {column!r} ({option}){hint}; columns present: {present}")


@contextlib.contextmanager
def parse_errors(config: InteractionsConfig) -> Iterator[None]:
    """Turn pandas' parse and decode errors into :class:`DataError` naming the file
    (Dask reads blocks, so the line number is within the block that failed)."""
    try:
        yield
    except pd.errors.ParserError as err:
        message = str(err).split("Original Message: ")[-1]
        raise DataError(config.path, f"cannot be parsed: {message}") from None
    except UnicodeDecodeError as err:
        raise DataError(
            config.path, f"cannot be decoded as {config.encoding} ({err.reason}); set interactions.encoding"
        ) from None


def read_interactions(config: InteractionsConfig) -> dd.DataFrame:
    """The raw interactions table, lazily, with the configured columns checked."""
    if not config.path:
        raise ValueError("interactions.path is not set")
    source = config.path
    layout = resolve_layout(source, config.format, config.sep, config.header, config.names, MOVIELENS_DATA_NAMES)
    wanted = {"user": config.user, "item": config.item, "rating": config.rating, "timestamp": config.timestamp}
    if layout.format == "parquet":
        if not Path(source).exists():
            raise DataError(source, "does not exist")
        frame = dd.read_parquet(source)
    else:
        if not any(Path(source).parent.glob(Path(source).name)):
            raise DataError(source, "does not exist")
        with parse_errors(config):
            frame = _read_csv(source, layout, config)
    check_columns(source, list(frame.columns), wanted)
    return frame[[c for c in wanted.values() if c is not None]]


def _read_csv(source: str, layout: TableLayout, config: InteractionsConfig) -> dd.DataFrame:
    return dd.read_csv(
        source,
        sep=layout.sep,
        header=0 if layout.header else None,
        names=list(layout.names) if layout.names else None,
        dtype=str,
        keep_default_na=False,
        encoding=config.encoding,
        blocksize=config.blocksize,
    )


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | series.astype(str).str.strip().eq("")


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Epoch seconds (float64, NaN when unparseable) from numbers or date strings."""
    numeric = pd.to_numeric(values, errors="coerce").astype("float64")
    todo = numeric.isna() & ~_blank(values)
    if todo.any():
        dates = pd.to_datetime(values[todo].astype(str), errors="coerce", utc=True, format="mixed")
        seconds = (dates - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        numeric.loc[todo] = seconds.astype("float64")
    return numeric


def empty_interactions() -> pd.DataFrame:
    """The canonical (meta) frame: string ids, float ratings, int64 epoch seconds."""
    return pd.DataFrame(
        {
            USER: pd.Series(dtype=str),
            ITEM: pd.Series(dtype=str),
            RATING: pd.Series(dtype="float64"),
            TIMESTAMP: pd.Series(dtype="int64"),
        }
    )


class _Drops:
    def __init__(self, source: str):
        self.source = source
        self.counts: Counter = Counter()
        self.examples: dict[str, list[str]] = {}

    def add(self, reason: str, frame: pd.DataFrame, mask: pd.Series, user: str, item: str, column: str | None):
        n = int(mask.sum())
        if not n:
            return
        self.counts[reason] += n
        shown = self.examples.setdefault(reason, [])
        for _, row in frame.loc[mask].head(MAX_EXAMPLES - len(shown)).iterrows():
            what = f"user {row[user]!r}, item {row[item]!r}"
            if column is not None:
                what += f": {column} {row[column]!r}"
            shown.append(f"{self.source}: row with {what}")


def clean_partition(
    raw: pd.DataFrame, config: InteractionsConfig, known_items: frozenset[str] | None
) -> tuple[pd.DataFrame, _Drops]:
    """One raw partition -> canonical columns, and the rows dropped by reason:
    missing ids, a rating or time that is not a number, an item absent from the item
    table. Implicit data (no rating column) gets rating 1; no time column gets 0."""
    drops = _Drops(config.path)
    user, item = config.user, config.item
    keep = ~(_blank(raw[user]) | _blank(raw[item]))
    drops.add("missing user or item id", raw, ~keep, user, item, None)
    raw = raw[keep]
    if config.rating is not None:
        rating = pd.to_numeric(raw[config.rating], errors="coerce")
        bad = rating.isna() | ~np.isfinite(rating.astype("float64"))
        drops.add("rating is not a number", raw, bad, user, item, config.rating)
        raw, rating = raw[~bad], rating[~bad].astype("float64")
    else:
        rating = pd.Series(1.0, index=raw.index)
    if config.timestamp is not None:
        stamps = parse_timestamps(raw[config.timestamp])
        bad = stamps.isna()
        drops.add("timestamp is not a number or a date", raw, bad, user, item, config.timestamp)
        raw, rating, stamps = raw[~bad], rating[~bad], stamps[~bad].astype("int64")
    else:
        stamps = pd.Series(0, index=raw.index, dtype="int64")
    users = raw[user].astype(str).str.strip()
    items = raw[item].astype(str).str.strip()
    if known_items is not None:
        unknown = ~items.isin(known_items)
        drops.add("item not in the item table", raw, unknown, user, item, None)
        users, items, rating, stamps = users[~unknown], items[~unknown], rating[~unknown], stamps[~unknown]
    out = pd.DataFrame({USER: users, ITEM: items, RATING: rating, TIMESTAMP: stamps})
    return out.astype(empty_interactions().dtypes.to_dict()).reset_index(drop=True), drops


def canonical_partition(raw: pd.DataFrame, config: InteractionsConfig, known_items: frozenset[str] | None):
    """:func:`clean_partition`'s rows (for ``map_partitions``)."""
    return clean_partition(raw, config, known_items)[0]


def drop_partition(raw: pd.DataFrame, config: InteractionsConfig, known_items: frozenset[str] | None):
    """:func:`clean_partition`'s accounting as a small frame (rows in, drops, examples)."""
    _, drops = clean_partition(raw, config, known_items)
    rows = [{"reason": "", "n": len(raw), "examples": "[]"}]
    rows += [{"reason": r, "n": n, "examples": json.dumps(drops.examples.get(r, []))} for r, n in drops.counts.items()]
    return pd.DataFrame(rows).astype({"reason": object, "n": "int64", "examples": object})


def drop_meta() -> pd.DataFrame:
    return pd.DataFrame(
        {"reason": pd.Series(dtype=object), "n": pd.Series(dtype="int64"), "examples": pd.Series(dtype=object)}
    )


def summarize_drops(frame: pd.DataFrame, source: str) -> dict:
    """Rows in, used, dropped by reason (with up to three examples each)."""
    rows_in = int(frame.loc[frame["reason"] == "", "n"].sum())
    dropped = frame[frame["reason"] != ""]
    by_reason = {str(r): int(n) for r, n in dropped.groupby("reason")["n"].sum().items()}
    examples: dict[str, list[str]] = {}
    for reason, text in zip(dropped["reason"], dropped["examples"], strict=True):
        shown = examples.setdefault(str(reason), [])
        shown.extend(json.loads(text)[: MAX_EXAMPLES - len(shown)])
    total = sum(by_reason.values())
    return {
        "source": source,
        "rows_in": rows_in,
        "rows_used": rows_in - total,
        "rows_dropped": total,
        "dropped_by_reason": by_reason,
        "examples": examples,
    }
