"""Choosing the final system on validation queries only, and saying plainly when the
fine-tuned reranker did not earn its place.

The candidates are the fine-tuned reranker alone, the first stage alone, the zero-shot
dense rerank alone, and weighted fusions of them (:func:`fit_fusion`'s grid, each
component normalised per query). The best validation nDCG@10 wins; ties go to the
simplest candidate. The test queries are never looked at here."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rankwright.data.records import DOC_ID, QUERY_ID
from rankwright.evaluation.standing import below_warning
from rankwright.inference.fusion import METRIC, fit_fusion, required_components

log = logging.getLogger(__name__)

NAMES = {
    "reranker": "fine-tuned reranker",
    "biencoder": "fine-tuned bi-encoder",
    "first_stage": "first stage",
    "dense": "zero-shot dense rerank",
    "popularity": "popularity",
}
FINE_TUNED = ("reranker", "biencoder")


@dataclass
class Selection:
    fusion: dict[str, Any]  # the chosen candidate as a fusion dict (method, weights, validation)
    table: pd.DataFrame  # one row per candidate with its validation nDCG@10
    chosen: str  # the chosen candidate's label, e.g. "minmax: 0.6 reranker + 0.4 first_stage"
    messages: list[str]  # the guard rail: what was selected and why, in words
    retrieval: str | None = None  # the bi-encoder folder, when it is selected as the first stage itself

    @property
    def uses_reranker(self) -> bool:
        return "reranker" in required_components(self.fusion)

    @property
    def uses_biencoder(self) -> bool:
        return "biencoder" in required_components(self.fusion)

    @property
    def uses_fine_tuned(self) -> bool:
        return self.uses_reranker or self.uses_biencoder

    @property
    def zero_shot(self) -> dict[str, Any] | None:
        """The best validation candidate that is a fusion of components without a
        fine-tuned model (first stage + dense), as a fusion dict with its ``label``; None
        when there is none or a single component alone is at least as good (that
        component is already a row of its own)."""
        return best_zero_shot_fusion(self.table)

    @property
    def validation(self) -> dict[str, float]:
        """Validation nDCG@10 of each component alone and of the chosen candidate."""
        return {**self.fusion["validation"]["alone"], "selected": self.fusion["validation"]["chosen"]}


def with_retrieval(selection: Selection, key: str, row: str, value: float, model_dir: str, how: str) -> Selection:
    """``selection`` with a retrieval candidate's validation value (``key``) among the
    values alone; the candidate is selected instead when it is strictly better than the
    chosen reranking system (the last message, what was selected, is then replaced)."""
    validation = selection.fusion["validation"]
    chosen_value = float(validation["chosen"])
    validation = {**validation, "alone": {**validation["alone"], key: value}}
    if value <= chosen_value + 1e-9:
        message = (
            f"the {row}'s validation {METRIC} ({value:.4f}) is not above the selected system's "
            f"({chosen_value:.4f}), so it is not used"
        )
        log.info("%s", message)
        fusion = {**selection.fusion, "validation": validation}
        return Selection(fusion, selection.table, selection.chosen, [*selection.messages, message])
    message = (
        f"selected instead: {row} (validation {METRIC} {value:.4f}, above the best system over the first "
        f"stage's candidates, {selection.chosen} at {chosen_value:.4f}); it replaces the first stage: {how}"
    )
    log.info("%s", message)
    fusion = {"method": selection.fusion["method"], "weights": {"biencoder": 1.0}}
    fusion["validation"] = {**validation, "chosen": value}
    return Selection(fusion, selection.table, row, [*selection.messages[:-1], message], retrieval=model_dir)


def best_zero_shot_candidate(table: pd.DataFrame) -> pd.Series | None:
    """The row of :func:`fit_fusion`'s candidate ``table`` with the best validation
    nDCG@10 that weights no fine-tuned model (the table lists the simplest first, so
    the first maximum is the simplest); None when there is none."""
    if table.empty or METRIC not in table:
        return None
    free = pd.Series(True, index=table.index)
    for name in FINE_TUNED:
        if name in table:
            free &= table[name].fillna(0) == 0
    candidates = table[free]
    return None if candidates.empty else candidates.loc[candidates[METRIC].idxmax()]


def best_zero_shot_fusion(table: pd.DataFrame) -> dict[str, Any] | None:
    """See :attr:`Selection.zero_shot`; ``table`` is :func:`fit_fusion`'s candidate table."""
    best = best_zero_shot_candidate(table)
    if best is None:
        return None
    weights = {c: float(best[c]) for c in table.columns if c in NAMES and float(best.get(c) or 0) > 0}
    if len(weights) < 2:
        return None
    return {"method": best["method"], "weights": weights, "label": best["candidate"], "validation": best[METRIC]}


def guard_rail(alone: dict[str, float], chosen: str, chosen_value: float, uses: bool, first_stage: str) -> list[str]:
    """Plain sentences: where each fine-tuned model (reranker, bi-encoder) stands against
    the first stage and the dense rerank on validation, and what was selected instead
    and why."""
    names = {**NAMES, "first_stage": f"first stage ({first_stage})"}
    messages = []
    for model in FINE_TUNED:
        value = alone.get(model)
        for other in ("first_stage", "dense", "popularity"):
            if value is not None and other in alone and value < alone[other]:
                words = below_warning(
                    f"the {names[model]}", f"the {names[other]}", f"validation {METRIC}", value, alone[other]
                )
                messages.append(f"{words}: on this data it alone would make ranking worse.")
    words = {"first_stage": names["first_stage"], "dense": "dense rerank"}
    label = re.sub(r"\b(first_stage|dense)\b", lambda m: words[m.group(1)], chosen)
    if uses:
        why = f"selected: {label} (validation {METRIC} {chosen_value:.4f}, the best of all candidates)"
    else:
        best_other = max(alone, key=alone.get)
        why = (
            f"selected instead: {label} (validation {METRIC} {chosen_value:.4f}, the best candidate; "
            f"no fusion with a fine-tuned model scored higher on the validation queries, so no "
            f"fine-tuned model is used at test time; best component alone: {names[best_other]})"
        )
    messages.append(why)
    return messages


def select(
    candidates: pd.DataFrame,
    components: dict[str, np.ndarray],
    qrels: pd.DataFrame,
    relevant_gain: int,
    first_stage: str,
    **fusion_kwargs,
) -> Selection:
    """Score every candidate system on the validation ``candidates`` (query_id, doc_id;
    ``components`` has one score per row) against the validation ``qrels`` (query_id,
    doc_id, gain; judged documents outside the candidates count, as in trec_eval) and
    choose the best by nDCG@10."""
    fusion, table = fit_fusion(
        components,
        candidates[QUERY_ID].astype(str).tolist(),
        candidates[DOC_ID].astype(str).tolist(),
        qrels,
        relevant_gain,
        **fusion_kwargs,
    )
    chosen = str(table.loc[table["chosen"], "candidate"].iloc[0])
    uses = any(c in required_components(fusion) for c in FINE_TUNED)
    messages = guard_rail(fusion["validation"]["alone"], chosen, fusion["validation"]["chosen"], uses, first_stage)
    for message in messages:
        (log.warning if message.startswith("WARNING") else log.info)("%s", message)
    return Selection(fusion, table, chosen, messages)
