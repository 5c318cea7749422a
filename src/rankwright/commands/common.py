"""Loading, labelling and subsetting data the same way for every command."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rankwright.commands.configs import SUBSETS, DataSelection  # noqa: F401 (DataSelection: re-exported)
from rankwright.data.labels import LabelScheme, build_scheme
from rankwright.data.readers import read_relevance
from rankwright.data.records import RelevanceData
from rankwright.data.split import split_data

log = logging.getLogger(__name__)


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
