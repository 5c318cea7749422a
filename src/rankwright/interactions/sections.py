"""The settings of each stage of the ``pairs`` pipeline (reading, items, positives, context,
negatives, the Dask cluster): dataclasses and constants only, no Dask, pandas or numpy.
The stage modules re-export their section."""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from rankwright.retrieval.config import BM25Config

USER = "user_id"
ITEM = "item_id"
RATING = "rating"
TIMESTAMP = "timestamp"
FORMATS = ("auto", "csv", "tsv", "parquet", "movielens")
ORDERS = ("rating", "recent")
PLACEHOLDERS = ("items", "genres")
HARD_RETRIEVERS = ("bm25",)


@dataclass
class InteractionsConfig:
    """Where the interactions are and which columns hold user, item, rating, time."""

    path: str = field(default="", metadata={"help": "csv/tsv file or glob, parquet file or partitioned folder"})
    format: str = field(default="auto", metadata={"help": f"one of {', '.join(FORMATS)} (movielens: u.data)"})
    sep: str | None = field(
        default=None, metadata={"help": "field separator of csv/tsv (default: from format; tab: a tab)"}
    )
    header: bool | None = field(default=None, metadata={"help": "csv/tsv has a header line (default: from format)"})
    names: list[str] | None = field(default=None, metadata={"help": "column names of a file without header"})
    user: str = field(default=USER, metadata={"help": "user id column"})
    item: str = field(default=ITEM, metadata={"help": "item id column"})
    rating: str | None = field(
        default=RATING, metadata={"help": "rating column; none for implicit data (every interaction counts)"}
    )
    timestamp: str | None = field(
        default=TIMESTAMP, metadata={"help": "time column (epoch seconds or dates); none if absent"}
    )
    encoding: str = field(default="utf-8", metadata={"help": "text encoding of csv/tsv"})
    blocksize: str = field(default="64MB", metadata={"help": "csv/tsv bytes per Dask partition"})


@dataclass
class ItemsConfig:
    """Where the item table is, and which columns make an item's title, genres and text."""

    path: str = field(default="", metadata={"help": "csv/tsv/parquet item table, or MovieLens u.item"})
    format: str = field(default="auto", metadata={"help": "auto|csv|tsv|parquet|movielens (u.item: | separated)"})
    sep: str | None = field(default=None, metadata={"help": "field separator (default: from format)"})
    header: bool | None = field(default=None, metadata={"help": "the file has a header line (default: from format)"})
    names: list[str] | None = field(default=None, metadata={"help": "column names of a file without header"})
    encoding: str | None = field(default=None, metadata={"help": "text encoding (default: UTF-8, else latin-1)"})
    id: str = field(default="item_id", metadata={"help": "item id column"})
    title: str = field(default="title", metadata={"help": "column naming the item in user contexts"})
    genres: str | None = field(default=None, metadata={"help": "column of genres/tags, split by genre_separator"})
    genre_separator: str = field(default="|", metadata={"help": "separates genres in the genres column"})
    genre_flags: list[str] | None = field(
        default=None,
        metadata={"help": "0/1 columns whose names become genres (default for movielens: the 18 u.genre genres)"},
    )
    text_template: str = field(
        default="{title}", metadata={"help": "item text; {column} placeholders and {genres} (comma separated)"}
    )


@dataclass
class PositivesConfig:
    """Which interactions are positives, and how many per user."""

    threshold: float | None = field(
        default=None, metadata={"help": "rating at or above which an interaction is a positive (none: all)"}
    )
    max_per_user: int = field(default=3, metadata={"help": "training positives kept per user at most (0: all)"})
    min_per_user: int = field(default=3, metadata={"help": "users with fewer positives are dropped"})

    def check(self) -> None:
        if self.max_per_user < 0 or self.min_per_user < 1:
            raise ValueError("positives.max_per_user must be >= 0 (0: all) and positives.min_per_user >= 1")


@dataclass
class ContextConfig:
    """How a user's context text is made."""

    template: str = field(
        default="Liked: {items}. Favourite genres: {genres}",
        metadata={"help": "context text with {items} and {genres}"},
    )
    max_items: int = field(default=10, metadata={"help": "liked items named in the context at most"})
    max_genres: int = field(default=3, metadata={"help": "most frequent genres named at most"})
    order: str = field(
        default="rating", metadata={"help": "which liked items come first: rating (highest, then latest)|recent"}
    )
    item_separator: str = field(default="; ", metadata={"help": "joins the item titles"})
    empty: str = field(default="none", metadata={"help": "written for an empty list of items or genres"})

    def check(self) -> None:
        names = {name for _, name, _, _ in string.Formatter().parse(self.template) if name is not None}
        unknown = sorted(names - set(PLACEHOLDERS))
        if unknown:
            raise ValueError(f"context.template: unknown placeholder {{{unknown[0]}}}; use {{items}} and {{genres}}")
        if self.order not in ORDERS:
            raise ValueError(f"context.order must be one of {ORDERS}, got {self.order!r}")
        if self.max_items < 1:
            raise ValueError(f"context.max_items must be at least 1, got {self.max_items}")
        if self.max_genres < 0:
            raise ValueError(f"context.max_genres cannot be negative, got {self.max_genres}")


@dataclass
class NegativesConfig:
    """How many negatives each positive gets, and from where."""

    per_positive: int = field(default=3, metadata={"help": "random negatives per positive (never-seen items)"})
    eval_per_positive: int | None = field(
        default=None, metadata={"help": "random negatives per validation/test positive (default: per_positive)"}
    )
    popularity_alpha: float = field(
        default=0.0, metadata={"help": "0: uniform; a: items drawn with weight (interactions + 1) ** a"}
    )
    hard_per_positive: int = field(
        default=0, metadata={"help": "extra hard negatives per positive from a retriever over item texts"}
    )
    hard_retriever: str = field(default="bm25", metadata={"help": "retriever of hard negatives: bm25"})
    bm25: BM25Config = field(
        default_factory=lambda: BM25Config(top_k=50),
        metadata={"help": "BM25 of the hard negatives; top_k: they come from the BM25 top k items"},
    )

    def check(self) -> None:
        if self.per_positive < 0 or self.hard_per_positive < 0:
            raise ValueError("negatives.per_positive and negatives.hard_per_positive cannot be negative")
        if self.eval_per_positive is not None and self.eval_per_positive < 0:
            raise ValueError(f"negatives.eval_per_positive cannot be negative, got {self.eval_per_positive}")
        if self.popularity_alpha < 0:
            raise ValueError(f"negatives.popularity_alpha cannot be negative, got {self.popularity_alpha}")
        if self.hard_per_positive and self.hard_retriever not in HARD_RETRIEVERS:
            raise ValueError(
                f"negatives.hard_retriever must be one of {HARD_RETRIEVERS} in the Dask pipeline, "
                f"got {self.hard_retriever!r}"
            )


@dataclass
class DaskConfig:
    """The Dask cluster the pipeline runs on."""

    scheduler: str | None = field(
        default=None,
        metadata={
            "help": "address of an existing cluster (tcp://host:8786); synchronous|threads: run in this process; "
            "default: start a LocalCluster"
        },
    )
    workers: int | None = field(default=None, metadata={"help": "LocalCluster workers (default: one per core)"})
    threads_per_worker: int = field(default=1, metadata={"help": "LocalCluster threads per worker"})
    processes: bool = field(default=True, metadata={"help": "LocalCluster workers are processes (false: threads)"})
    memory_limit: str = field(default="auto", metadata={"help": "LocalCluster memory limit per worker, e.g. 2GiB"})
    npartitions: int | None = field(
        default=None, metadata={"help": "partitions after the shuffle by user (default: input partitions, >= 2/thread)"}
    )
