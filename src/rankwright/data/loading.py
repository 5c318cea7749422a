"""Loading, labelling and subsetting data the same way for every command and the recipe:
the data of a :class:`~rankwright.data.config.DataSelection` (or a qrels file alone),
its label scheme, and the query split it selects."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from rankwright.data.config import SUBSETS
from rankwright.data.labels import LabelConfig, LabelScheme, build_scheme
from rankwright.data.readers import read_relevance
from rankwright.data.readers.qrels_only import qrels_labels, read_qrels_only
from rankwright.data.records import RelevanceData
from rankwright.data.split import split_data

log = logging.getLogger(__name__)


@dataclass
class LoadedData:
    full: RelevanceData
    subset: RelevanceData
    scheme: LabelScheme
    split_counts: dict[str, int] | None


def load_data(config: Any) -> LoadedData:
    """Read ``config.data``, check every label against ``config.labels`` and keep the
    ``config.subset`` split (all, train, val or test). ``config``: a ``DataSelection``
    (a ``RunDataSelection`` may give ``qrels`` alone)."""
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


def _read(config: Any) -> tuple[RelevanceData, LabelConfig]:
    """The data of ``config.data``, or of ``config.qrels`` alone (with trec_eval's label convention)."""
    qrels = getattr(config, "qrels", None)
    if not qrels:
        return read_relevance(config.data), config.labels
    given = [f"data.{k}" for k in ("path", "corpus", "queries", "qrels") if getattr(config.data, k)]
    if given:
        raise ValueError(f"give qrels alone or the data ({', '.join(given)}), not both")
    data = read_qrels_only(qrels)
    return data, qrels_labels(config.labels, data)
