"""The end of a training run: the best model's validation metric against random order
and BM25 on the same validation queries, with paired tests, so that a model that ranks
worse than either says so (``WARNING:`` lines in ``train``'s output and in
``train_summary.json``'s ``baselines``). Shared by the cross-encoder/generative trainer
and the bi-encoder trainer."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from rankwright.data.records import DOC, DOC_ID, RelevanceData
from rankwright.evaluation.standing import baseline_results, format_line, standing
from rankwright.training.trainer import SaveBestCallback, ValidationSet

log = logging.getLogger(__name__)

BEST = "the best model"


def pair_documents(*parts: RelevanceData | None) -> dict[str, str]:
    """doc_id -> text of every judged pair of ``parts``: BM25's IDF statistics, as
    ``evaluate`` computes them over a data file's documents."""
    documents: dict[str, str] = {}
    for part in parts:
        if part is not None:
            first = part.pairs.drop_duplicates(DOC_ID)
            documents.update(zip(first[DOC_ID].astype(str), first[DOC].astype(str), strict=True))
    return documents


def check_against_baselines(
    saver: SaveBestCallback, validation: ValidationSet | None, documents: dict[str, str], progress: bool = False
) -> dict[str, Any] | None:
    """:class:`~rankwright.evaluation.standing.Standing` of the best evaluation (the
    folder ``best/`` holds) against random order and BM25 on the validation pairs, as a
    dict with its one-line summary (``line``); ``None`` without validation."""
    if validation is None:
        return None
    if not saver.best_per_query:
        reason = (
            "no validation evaluation ran"
            if saver.best is None
            else "no per-query values of the best evaluation (chosen before a resume, by an older rankwright)"
        )
        log.info("validation against baselines skipped: %s", reason)
        return {"skipped": reason}
    metric = validation.check_metric
    model = pd.DataFrame({metric: pd.Series(saver.best_per_query, dtype=float)})
    model.index.name = "query_id"
    rows = baseline_results(
        validation.pairs, validation.qrels, validation.relevant_gain, validation.metrics, documents, progress=progress
    )
    result = standing(BEST, model, {name: r.per_query for name, r in rows.items()}, metric, "validation queries")
    line = format_line(result)
    log.info("%s", line)
    return {**result.to_dict(), "line": line}
