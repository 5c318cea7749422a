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
}
FINE_TUNED = ("reranker", "biencoder")


@dataclass
class Selection:
    fusion: dict[str, Any]  # the chosen candidate as a fusion dict (method, weights, validation)
    table: pd.DataFrame  # one row per candidate with its validation nDCG@10
    chosen: str  # the chosen candidate's label, e.g. "minmax: 0.6 reranker + 0.4 first_stage"
    messages: list[str]  # the guard rail: what was selected and why, in words

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
    def validation(self) -> dict[str, float]:
        """Validation nDCG@10 of each component alone and of the chosen candidate."""
        return {**self.fusion["validation"]["alone"], "selected": self.fusion["validation"]["chosen"]}


def guard_rail(alone: dict[str, float], chosen: str, chosen_value: float, uses: bool, first_stage: str) -> list[str]:
    """Plain sentences: where each fine-tuned model (reranker, bi-encoder) stands against
    the first stage and the dense rerank on validation, and what was selected instead
    and why."""
    names = {**NAMES, "first_stage": f"first stage ({first_stage})"}
    messages = []
    for model in FINE_TUNED:
        value = alone.get(model)
        for other in ("first_stage", "dense"):
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
