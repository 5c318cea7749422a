"""The data settings: where relevance data is, how to read and label it, how to split it,
and which query split a command uses (:class:`DataSelection`).

Dataclasses and constants only (no pandas), so that the command line is built without
loading the libraries that reading the data needs. The readers re-export these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rankwright.data.columns import QUERY_ID

#: layout -> (query key, positives key, negatives key, positive scores key, negative scores key)
GROUPED_LAYOUTS: dict[str, tuple[str, str, str, str | None, str | None]] = {
    "seed002": ("query_text", "positives", "negatives", None, None),
    "swift": ("query", "positive", "negative", None, None),
    "flag": ("query", "pos", "neg", "pos_scores", "neg_scores"),
}


FORMATS = ("auto", "table", "grouped", *GROUPED_LAYOUTS, "beir", "smart")
SPLIT_NAMES = ("train", "val", "test")
SUBSETS = ("all", *SPLIT_NAMES)
#: ``split.by`` value that takes train and test from the data's own split column (ESCI's official split).
SPLIT_BY_COLUMN = "column"


@dataclass
class ColumnMap:
    """Which input columns hold the query, the document text parts and the label.

    Fields left unset are taken from the layout recognised from the header (ESCI,
    Home Depot, or rankwright's own query/doc/label columns).
    """

    query: str | None = field(default=None, metadata={"help": "query text column"})
    docs: list[str] | None = field(default=None, metadata={"help": "document text column(s), joined in order"})
    label: str | None = field(default=None, metadata={"help": "label column (grade or class name)"})
    query_id: str | None = field(default=None, metadata={"help": "query id column (optional)"})
    doc_id: str | None = field(default=None, metadata={"help": "document id column (optional)"})
    separator: str = field(default="\n", metadata={"help": "joins the document columns"})
    truncate_words: dict[str, int] = field(
        default_factory=dict, metadata={"help": "column -> words kept, e.g. {description: 350}"}
    )
    keep: list[str] = field(default_factory=list, metadata={"help": "extra columns carried along as metadata"})

    def is_set(self) -> bool:
        return any(v is not None for v in (self.query, self.docs, self.label, self.query_id, self.doc_id))


@dataclass
class DataConfig:
    """Where the relevance data is and how to read it."""

    path: str = field(default="", metadata={"help": "file or folder (table, grouped JSONL, BEIR or SMART folder)"})
    corpus: str | None = field(
        default=None, metadata={"help": "instead of path: corpus JSONL (_id, title, text), with queries and qrels"}
    )
    queries: str | None = field(default=None, metadata={"help": "queries JSONL (_id, text) or TSV (id<TAB>text)"})
    qrels: str | None = field(default=None, metadata={"help": "qrels: TREC (4 columns) or 3 columns, header optional"})
    format: str = field(default="auto", metadata={"help": f"one of {', '.join(FORMATS)}"})
    columns: ColumnMap = field(default_factory=ColumnMap, metadata={"help": "column mapping for tables"})
    encoding: str | None = field(
        default=None, metadata={"help": "text encoding of CSV/TSV (default: UTF-8, else latin-1)"}
    )
    on_duplicate: str = field(
        default="drop", metadata={"help": "conflicting labels for one (query, doc): drop|error|max|mean|first"}
    )
    qrels_split: str = field(default="test", metadata={"help": "BEIR qrels/<split>.tsv to read"})
    doc_fields: list[str] = field(default_factory=lambda: ["T", "W"], metadata={"help": "SMART fields of a document"})
    query_numbering: str = field(default="auto", metadata={"help": "SMART query ids: auto|id|order"})
    esci_small: bool = field(
        default=False, metadata={"help": "published ESCI examples table: keep the rows with small_version == 1"}
    )
    locale: str | None = field(
        default=None, metadata={"help": "published ESCI examples table: keep one product_locale (us, es, jp)"}
    )
    sep: str | None = field(
        default=None,
        metadata={"help": "CSV field separator: a character or comma, tab, semicolon, pipe (default: by suffix)"},
    )


@dataclass
class LabelConfig:
    """How raw labels become gains, relevance and classes.

    A key left unset (``auto``, none, empty) is taken from the known layout the data was
    recognised as (Home Depot, ESCI), when its scheme is ``auto`` or the layout's."""

    scheme: str = field(default="auto", metadata={"help": "auto|binary|graded|classes"})
    threshold: float | None = field(
        default=None, metadata={"help": "raw label at or above which a document is relevant (binary, graded)"}
    )
    gains: dict[str, float] = field(
        default_factory=dict, metadata={"help": "raw label or class -> gain, e.g. {E: 3, S: 2, C: 1, I: 0}"}
    )
    gain_offset: float | None = field(
        default=None, metadata={"help": "graded: gain = round((raw - offset) * scale); unset: 0"}
    )
    gain_scale: float | None = field(
        default=None, metadata={"help": "graded: gain = round((raw - offset) * scale); unset: 1"}
    )
    relevant_gain: int | None = field(default=None, metadata={"help": "integer gain at or above which relevant"})
    classes: list[str] = field(default_factory=list, metadata={"help": "class names in model-output order"})
    relevant_classes: list[str] = field(default_factory=list, metadata={"help": "classes counted as relevant"})
    bins: dict[str, float] = field(
        default_factory=dict,
        metadata={"help": "classes from numeric labels: class -> lower bound, e.g. {E: 3, S: 2.33, C: 1.67, I: 1}"},
    )
    target_range: list[float] | None = field(
        default=None, metadata={"help": "[low, high] of the raw label, scaled to [0, 1] for MSE targets"}
    )


@dataclass
class SplitConfig:
    """Query-level train/val/test split."""

    ratios: list[float] = field(default_factory=lambda: [0.7, 0.15, 0.15], metadata={"help": "train, val, test"})
    seed: int = field(default=42, metadata={"help": "same seed, same split, on any machine"})
    by: str = field(
        default=QUERY_ID,
        metadata={
            "help": "column whose values are kept together (query_id or user_id), or 'column': the data's own "
            "split column (ESCI's official train/test; val carved out of train by ratios)"
        },
    )


@dataclass
class DataSelection:
    """The data a command reads, its label scheme, and which query split it uses."""

    data: DataConfig = field(default_factory=DataConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    subset: str = field(default="all", metadata={"help": "all|train|val|test: the query split used"})


@dataclass
class RunDataSelection(DataSelection):
    """A :class:`DataSelection` that may instead be a qrels file alone (runs evaluated like trec_eval)."""

    qrels: str | None = field(
        default=None,
        metadata={
            "help": "a TREC qrels file alone (3 or 4 columns) instead of data: no texts, runs evaluated like "
            "trec_eval (integer grades as gains, relevant when gain >= 1 unless labels.* say otherwise)"
        },
    )
