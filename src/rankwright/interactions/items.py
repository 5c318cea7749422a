"""The item table: id, title, genres/tags and the text the model reads for an item.

Item tables are small next to interactions (MovieLens 1,682 films, goodbooks 10,000
books), so they are read with pandas once and broadcast to every worker as a
:class:`Catalog`. Genres come from a list-like column (``"Drama|War"``) or from 0/1
flag columns whose names are the genres (MovieLens ``u.item``).
"""

from __future__ import annotations

import hashlib
import logging
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rankwright.data.records import DataError
from rankwright.interactions.reading import resolve_layout
from rankwright.interactions.sections import ItemsConfig

log = logging.getLogger(__name__)

#: MovieLens ``u.genre`` in order (the flag columns of ``u.item``).
MOVIELENS_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]
MOVIELENS_ITEM_NAMES = ["item_id", "title", "release_date", "video_release_date", "imdb_url", *MOVIELENS_GENRES]
GENRES = "genres"


@dataclass
class Catalog:
    """Every usable item, in table order: ids, titles, genres and texts."""

    ids: list[str]
    titles: list[str]
    genres: list[tuple[str, ...]]
    texts: list[str]
    report: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.row = {item: i for i, item in enumerate(self.ids)}
        digest = hashlib.sha256()
        for item, text in zip(self.ids, self.texts, strict=True):
            digest.update(f"{item}\x1f{text}\x1e".encode())
        self.fingerprint = digest.hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.ids)


def _movielens_genre_names(path: Path) -> list[str]:
    """Names from the ``u.genre`` beside ``u.item`` when present, else the built-in list."""
    genre_file = path.with_name("u.genre")
    if not genre_file.exists():
        return MOVIELENS_GENRES
    lines = [line.rsplit("|", 1)[0] for line in genre_file.read_text(encoding="latin-1").splitlines() if line.strip()]
    return lines or MOVIELENS_GENRES


def _read_frame(config: ItemsConfig) -> tuple[pd.DataFrame, str, list[str]]:
    """The raw item table (all strings), its format and notes."""
    path = Path(config.path)
    if not path.exists():
        raise DataError(config.path, "does not exist")
    names = config.names
    fmt = config.format if config.format != "auto" else ("movielens" if path.name == "u.item" else "auto")
    if fmt == "movielens" and names is None:
        names = [*MOVIELENS_ITEM_NAMES[:5], *_movielens_genre_names(path)]
    layout = resolve_layout(
        config.path, fmt, config.sep or ("|" if fmt == "movielens" else None), config.header, names, []
    )
    if layout.format == "parquet":
        frame = pd.read_parquet(path).astype(object)
        # missing values become "" (as keep_default_na=False reads a CSV): a missing id or text is counted, not "nan"
        return frame.where(frame.notna(), "").astype(str), layout.format, []
    encoding = config.encoding or ("latin-1" if layout.format == "movielens" else "utf-8")
    read = {
        "sep": layout.sep,
        "header": 0 if layout.header else None,
        "names": list(layout.names) if layout.names else None,
        "dtype": str,
        "keep_default_na": False,
    }
    try:
        return pd.read_csv(path, encoding=encoding, **read), layout.format, []
    except UnicodeDecodeError:
        if config.encoding:
            raise DataError(config.path, f"cannot be decoded as {config.encoding}") from None
        log.warning("%s is not UTF-8; reading it as latin-1", path)
        return pd.read_csv(path, encoding="latin-1", **read), layout.format, [f"{path.name} read as latin-1"]
    except pd.errors.ParserError as err:
        raise DataError(config.path, f"cannot be parsed: {err}") from None


def _placeholders(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _genres(frame: pd.DataFrame, config: ItemsConfig, flags: list[str]) -> list[tuple[str, ...]]:
    out: list[list[str]] = [[] for _ in range(len(frame))]
    if config.genres is not None:
        for i, value in enumerate(frame[config.genres].astype(str)):
            out[i].extend(g.strip() for g in value.split(config.genre_separator) if g.strip())
    for flag in flags:
        on = frame[flag].astype(str).str.strip().isin(["1", "1.0", "true", "True"])
        for i in on.to_numpy().nonzero()[0]:
            out[i].append(flag)
    return [tuple(dict.fromkeys(g)) for g in out]


def read_items(config: ItemsConfig) -> Catalog:
    """Read the item table into a :class:`Catalog`; rows without an id or text and
    repeated ids (the first row is kept) are dropped and counted in ``report``."""
    if not config.path:
        raise ValueError("items.path is not set")
    frame, fmt, notes = _read_frame(config)
    flags = config.genre_flags
    if flags is None:
        flags = [g for g in MOVIELENS_GENRES if g != "unknown" and g in frame] if fmt == "movielens" else []
    present = list(frame.columns)
    wanted = {"id": config.id, "title": config.title, "genres": config.genres}
    wanted.update({f"genre_flags[{i}]": f for i, f in enumerate(flags)})
    for option, column in wanted.items():
        if column is not None and column not in present:
            raise DataError(config.path, f"no column {column!r} ({option}); columns present: {present}")
    unknown = [p for p in _placeholders(config.text_template) if p != GENRES and p not in present]
    if unknown:
        raise DataError(config.path, f"text_template names {{{unknown[0]}}}, which is not a column; columns: {present}")
    frame = frame.reset_index(drop=True)
    genres = _genres(frame, config, flags)
    records = frame.to_dict("records")
    drops: Counter = Counter()
    examples: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    ids, titles, kept_genres, texts = [], [], [], []
    for i, (record, item_genres) in enumerate(zip(records, genres, strict=True)):
        item = str(record[config.id]).strip()
        values = {k: ("" if v is None else str(v).strip()) for k, v in record.items()}
        text = config.text_template.format_map({**values, GENRES: ", ".join(item_genres)}).strip()
        reason = None
        if not item:
            reason, example = "missing item id", f"row {i + 1}"
        elif item in seen:
            reason, example = "repeated item id (first row kept)", f"rows {seen[item]} and {i + 1}: id {item!r}"
        elif not text:
            reason, example = "empty item text", f"row {i + 1}: id {item!r}"
        if reason:
            drops[reason] += 1
            shown = examples.setdefault(reason, [])
            if len(shown) < 3:
                shown.append(f"{config.path}: {example}")
            continue
        seen[item] = i + 1
        ids.append(item)
        titles.append(values[config.title] or item)
        kept_genres.append(item_genres)
        texts.append(text)
    if not ids:
        raise DataError(config.path, "no usable items")
    report = {
        "source": config.path,
        "rows_in": len(frame),
        "rows_used": len(ids),
        "rows_dropped": sum(drops.values()),
        "dropped_by_reason": dict(drops),
        "examples": examples,
        "notes": notes,
    }
    return Catalog(ids, titles, kept_genres, texts, report)
