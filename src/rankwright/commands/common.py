"""Loading, labelling and subsetting data the same way for every command."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from rankwright.data.labels import LabelConfig, LabelScheme, build_scheme
from rankwright.data.readers import DataConfig, read_relevance
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
    data = read_relevance(config.data)
    log.info("%s", data.report.summary())
    scheme = build_scheme(config.labels, data)
    scheme.validate(data)
    if config.subset == "all":
        return LoadedData(data, data, scheme, None)
    parts = split_data(data, config.split)
    counts = {name: part.n_queries for name, part in parts.items()}
    log.info("query split %s (seed %d): %s queries", config.split.ratios, config.split.seed, counts)
    return LoadedData(data, parts[config.subset], scheme, counts)
