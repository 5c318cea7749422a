"""A TREC qrels file alone, without a corpus or queries: judged (query, document,
grade) triples with empty texts, enough to evaluate runs the way trec_eval does."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from rankwright.data.labels import LabelConfig
from rankwright.data.readers.common import SOURCE_ROW
from rankwright.data.readers.trec import GRADE, LINE, qrels_header, read_qrels
from rankwright.data.records import (
    DOC,
    DOC_ID,
    LABEL,
    QRELS_ONLY,
    QUERY,
    QUERY_ID,
    DataError,
    DropReport,
    RelevanceData,
)


def read_qrels_only(path: str | Path) -> RelevanceData:
    """``qid iter docid grade`` (TREC) or ``qid docid grade`` lines as judged pairs
    without texts (``source_row`` is the line); an integral grade stays an integer."""
    if not Path(path).is_file():
        raise DataError(str(path), "does not exist")
    qrels = read_qrels(path, skip_header=qrels_header(path))
    grades = qrels[GRADE].to_numpy()
    labels = grades.astype(np.int64) if np.all(grades == np.round(grades)) else grades
    pairs = pd.DataFrame(
        {
            QUERY_ID: qrels[QUERY_ID].to_numpy(),
            QUERY: "",
            DOC_ID: qrels[DOC_ID].to_numpy(),
            DOC: "",
            LABEL: labels,
            SOURCE_ROW: qrels[LINE].to_numpy(),
        }
    )
    report = DropReport(source=str(path), rows_in=len(pairs))
    report.notes.append("qrels read alone: no query or document texts")
    return RelevanceData(pairs, report, None, None, QRELS_ONLY)


def qrels_labels(config: LabelConfig, data: RelevanceData) -> LabelConfig:
    """The label config of a qrels file read alone: ``auto`` means trec_eval's
    convention, the integer grades as gains (negative grades count as 0) and relevant
    when gain >= 1 (``relevant_gain``, ``threshold`` and ``gains`` still apply).
    Without a gain mapping every grade must then be an integer (trec_eval's)."""
    if config.scheme != "auto":
        return config
    plain = not config.gains and config.gain_offset in (None, 0) and config.gain_scale in (None, 1)
    if plain:
        grades = pd.to_numeric(data.pairs[LABEL]).to_numpy(dtype=float)
        fractional = np.flatnonzero(grades != np.round(grades))
        if len(fractional):
            i = fractional[0]
            raise DataError(
                data.report.source,
                f"grade {grades[i]:g} is not an integer (trec_eval takes integer grades); "
                "map grades with labels.gains or labels.gain_scale, or set labels.scheme",
                line=int(data.pairs[SOURCE_ROW].iloc[i]),
            )
    return replace(config, scheme="graded")
