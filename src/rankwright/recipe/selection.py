"""Choosing the final system on validation queries only, and saying plainly when the
fine-tuned reranker did not earn its place.

The candidates are the fine-tuned reranker alone, the first stage alone, the zero-shot
dense rerank alone, and weighted fusions of them (:func:`fit_fusion`'s grid, each
component normalised per query). The best validation nDCG@10 wins; ties go to the
simplest candidate. The test queries are never looked at here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rankwright.data.records import DOC_ID, QUERY_ID
from rankwright.inference.fusion import METRIC, fit_fusion, required_components

log = logging.getLogger(__name__)

NAMES = {"reranker": "fine-tuned reranker", "first_stage": "first stage", "dense": "zero-shot dense rerank"}


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
    def validation(self) -> dict[str, float]:
        """Validation nDCG@10 of each component alone and of the chosen candidate."""
        return {**self.fusion["validation"]["alone"], "selected": self.fusion["validation"]["chosen"]}


def guard_rail(alone: dict[str, float], chosen: str, chosen_value: float, uses: bool, first_stage: str) -> list[str]:
    """Plain sentences: where the fine-tuned reranker stands against the first stage and
    the dense rerank on validation, and what was selected instead and why."""
    names = {**NAMES, "first_stage": f"first stage ({first_stage})"}
    messages = []
    reranker = alone.get("reranker")
    if reranker is not None:
        for other in ("first_stage", "dense"):
            if other in alone and reranker < alone[other]:
                messages.append(
                    f"WARNING: the fine-tuned reranker's validation {METRIC} ({reranker:.4f}) is below the "
                    f"{names[other]}'s ({alone[other]:.4f}): on this data fine-tuning alone would make ranking worse."
                )
    label = chosen.replace("first_stage", names["first_stage"]).replace("dense", "dense rerank")
    if uses:
        why = f"selected: {label} (validation {METRIC} {chosen_value:.4f}, the best of all candidates)"
    else:
        best_other = max(alone, key=alone.get)
        why = (
            f"selected instead: {label} (validation {METRIC} {chosen_value:.4f}, the best candidate; "
            f"no fusion with the fine-tuned reranker scored higher on the validation queries, so the "
            f"reranker is not used at test time; best component alone: {names[best_other]})"
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
    uses = "reranker" in required_components(fusion)
    messages = guard_rail(fusion["validation"]["alone"], chosen, fusion["validation"]["chosen"], uses, first_stage)
    for message in messages:
        (log.warning if message.startswith("WARNING") else log.info)("%s", message)
    return Selection(fusion, table, chosen, messages)
