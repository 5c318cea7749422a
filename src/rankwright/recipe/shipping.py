"""The recipe's choice on the validation queries (:func:`~rankwright.recipe.selection.select`)
and the model folder it ships: the selected system's, with a selected fusion written into it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rankwright.evaluation.evaluate import judged_qrels
from rankwright.inference.fusion import required_components
from rankwright.models.card import save_fusion
from rankwright.recipe.candidates import fusion_components
from rankwright.recipe.config import RecipeConfig
from rankwright.recipe.prepare import Prepared
from rankwright.recipe.retrieval_stage import KEY, RetrievalStage
from rankwright.recipe.selection import Selection, select, with_retrieval
from rankwright.recipe.training import Trained


def shipped_model(selection: Selection, reranker_dir: str, biencoder_dir: str | None) -> str:
    """The model folder of the selected system: the reranker's when it is used, else the
    bi-encoder's when that is used, else the reranker's (the selection says it is not used)."""
    if not selection.uses_reranker and selection.uses_biencoder and biencoder_dir is not None:
        return biencoder_dir
    return reranker_dir


def _store_fusion(model_dir: str, selection: Selection, fitted_on: str, biencoder_dir: str | None) -> None:
    """Write the selected fusion into the shipped model folder, so ``rerank`` and
    ``Reranker.rank`` apply it; a model selected alone needs none. Shipped as the model
    folder, the bi-encoder's own score is the fusion's ``reranker`` component."""
    if not selection.uses_fine_tuned or len(required_components(selection.fusion)) == 1:
        return
    fusion = {**selection.fusion, "fitted_on": fitted_on}
    if selection.uses_biencoder and not selection.uses_reranker:
        weights = dict(fusion["weights"])
        weights["reranker"] = weights.pop("biencoder")
        fusion["weights"] = weights
        fusion.pop("biencoder_model", None)
    elif selection.uses_biencoder:
        fusion["biencoder_model"] = str(Path(biencoder_dir).resolve())
    save_fusion(model_dir, fusion)


def select_system(
    config: RecipeConfig,
    prep: Prepared,
    val_scores: dict[str, np.ndarray],
    trained: Trained,
    retrieval: RetrievalStage | None = None,
) -> tuple[Selection, str]:
    """Choose on the validation queries (the bi-encoder's own retrieval from the corpus
    too, when there is one); a chosen fusion goes into the shipped model folder, whose
    path is returned with the selection."""
    scheme = prep.loaded.scheme
    biencoder_dir = trained.biencoder.model_dir if trained.biencoder is not None else None
    selection = select(
        prep.ranked["val"],
        fusion_components(prep.ranked["val"], val_scores["reranker"], val_scores.get("biencoder")),
        judged_qrels(prep.parts["val"], scheme),
        scheme.relevant_gain,
        prep.first.name,
        methods=config.fusion.methods,
        grid=config.fusion.grid,
        dense_model=config.dense.model if prep.encoder is not None else None,
        biencoder_model=str(Path(biencoder_dir).resolve()) if biencoder_dir else None,
    )
    if retrieval is not None:
        how = retrieval.how_to_use()
        selection = with_retrieval(selection, KEY, retrieval.row, retrieval.validation, retrieval.model_dir, how)
    source = config.data.path or config.data.corpus
    model_dir = shipped_model(selection, trained.kept.model_dir, biencoder_dir)
    fitted_on = f"{source} (val, {prep.counts['val']} queries), first stage {prep.first.name}"
    _store_fusion(model_dir, selection, fitted_on, biencoder_dir)
    return selection, model_dir
