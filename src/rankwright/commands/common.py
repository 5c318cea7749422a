"""Loading, labelling and subsetting data the same way for every command."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from rankwright.data.labels import LabelConfig, LabelScheme, build_scheme
from rankwright.data.readers import DataConfig, read_relevance
from rankwright.data.readers.qrels_only import qrels_labels, read_qrels_only
from rankwright.data.records import RelevanceData
from rankwright.data.split import SPLIT_NAMES, SplitConfig, split_data

log = logging.getLogger(__name__)

SUBSETS = ("all", *SPLIT_NAMES)


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


@dataclass
class LoadedData:
    full: RelevanceData
    subset: RelevanceData
    scheme: LabelScheme
    split_counts: dict[str, int] | None


def load_data(config) -> LoadedData:
    """Read ``config.data``, check every label against ``config.labels`` and keep the
    ``config.subset`` split (all, train, val or test)."""
    if config.subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {config.subset!r}")
    data, labels = _read(config)
    log.info("%s", data.report.summary())
    scheme = build_scheme(labels, data)
    scheme.validate(data)
    if config.subset == "all":
        return LoadedData(data, data, scheme, None)
    parts = split_data(data, config.split)
    counts = {name: part.n_queries for name, part in parts.items()}
    log.info("query split %s (seed %d): %s queries", config.split.ratios, config.split.seed, counts)
    return LoadedData(data, parts[config.subset], scheme, counts)


def _read(config) -> tuple[RelevanceData, LabelConfig]:
    """The data of ``config.data``, or of ``config.qrels`` alone (with trec_eval's label convention)."""
    qrels = getattr(config, "qrels", None)
    if not qrels:
        return read_relevance(config.data), config.labels
    given = [f"data.{k}" for k in ("path", "corpus", "queries", "qrels") if getattr(config.data, k)]
    if given:
        raise ValueError(f"give qrels alone or the data ({', '.join(given)}), not both")
    data = read_qrels_only(qrels)
    return data, qrels_labels(config.labels, data)
