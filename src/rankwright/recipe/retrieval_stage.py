"""The fine-tuned bi-encoder as a first stage, where there is a corpus.

The recipe's reranking systems all reorder the first stage's candidates. With a
corpus, the fine-tuned bi-encoder can also replace that first stage: it retrieves the
top k of the whole corpus for the validation and test queries (what
``rankwright retrieve-rerank --retriever.kind dense --retriever.dense.model <bi-encoder>``
does). Its validation nDCG@10 competes with the best reranking system's on the same
validation queries; its test run is a row of the test table either way. Without a
corpus there is nothing to retrieve from, and it is not a candidate."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pandas as pd

from rankwright.data.records import QUERY_ID
from rankwright.evaluation.evaluate import judged_qrels
from rankwright.evaluation.ranking import RankingConfig, evaluate_run
from rankwright.inference.fusion import METRIC
from rankwright.recipe.config import RecipeConfig
from rankwright.recipe.prepare import Prepared

if TYPE_CHECKING:
    from rankwright.retrieval.dense import DenseEncoder

log = logging.getLogger(__name__)

ROW = "fine-tuned bi-encoder retrieval"
#: its key among the selection's validation values
KEY = "biencoder_retrieval"


@dataclass
class RetrievalStage:
    model_dir: str  # the fine-tuned bi-encoder folder
    top_k: int
    runs: dict[str, pd.DataFrame]  # val/test -> query_id, doc_id, score (top k of the corpus)
    validation: float  # nDCG@10 of the val run against the val qrels

    @property
    def row(self) -> str:
        return f"{ROW} (top {self.top_k} of the corpus)"

    def how_to_use(self) -> str:
        return (
            f"rankwright retrieve-rerank --retriever.kind dense --retriever.dense.model {self.model_dir} "
            f"--retriever.top_k {self.top_k}"
        )


def bi_encoder_retrieval(
    config: RecipeConfig, prep: Prepared, biencoder_dir: str, encoder: DenseEncoder | None = None
) -> RetrievalStage | None:
    """The bi-encoder's top k of the corpus for the val and test queries, or None
    without a corpus. ``encoder``: the bi-encoder's, already loaded (its kept embeddings
    are read, not encoded again), else it is loaded."""
    if not prep.first.over_corpus:
        return None
    from rankwright.retrieval.ann import encoding_settings
    from rankwright.retrieval.dense import DenseRetriever

    # the folder's own max length and no prefixes, as it was trained; no embedding cache
    # on disk (a later run may write another model into the same folder)
    dense = replace(
        config.dense, model=biencoder_dir, max_length=None, query_prefix="", document_prefix="", cache_dir=None
    )
    if encoder is not None:
        dense = replace(dense, **encoding_settings(encoder.config))
    retriever = DenseRetriever(prep.first.documents, dense, progress=config.progress, encoder=encoder)
    top_k = config.retriever.top_k
    runs = {}
    for name in ("val", "test"):
        texts = prep.parts[name].query_texts()
        queries = {q: texts[q] for q in dict.fromkeys(prep.parts[name].pairs[QUERY_ID])}
        runs[name] = retriever.retrieve(queries, top_k, progress=config.progress)
    qrels = judged_qrels(prep.parts["val"], prep.loaded.scheme)
    metrics = RankingConfig(ndcg_at=[10], precision_at=[], recall_at=[])
    value = float(evaluate_run(runs["val"], qrels, prep.loaded.scheme.relevant_gain, metrics).mean("all")[METRIC])
    log.info("the fine-tuned bi-encoder retrieving the top %d of the corpus: validation %s %.4f", top_k, METRIC, value)
    return RetrievalStage(biencoder_dir, top_k, runs, value)
