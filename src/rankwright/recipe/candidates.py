"""The recipe's candidate lists: for each query, the documents its first stage puts
in front of the reranker, with their texts, first-stage score and judged gain.

With a corpus (BEIR, SMART, or corpus/queries/qrels files) the first stage retrieves
the top k of the whole corpus. Without one (a table of judged pairs, e.g. Home Depot)
there is nothing to retrieve from: each query's own judged candidates are the list,
ordered by BM25 (IDF over every document of the file)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from rankwright.data.labels import LabelScheme
from rankwright.data.records import DOC_ID, QUERY_ID, RelevanceData
from rankwright.evaluation.evaluate import qrels_of
from rankwright.evaluation.ranking import GAIN
from rankwright.inference.candidates import DENSE_SCORE, FIRST_STAGE_SCORE, add_dense, attach_texts, fusion_components
from rankwright.retrieval import Retriever, RetrieverConfig, build_retriever
from rankwright.retrieval.bm25 import BM25
from rankwright.retrieval.dense import DenseEncoder

log = logging.getLogger(__name__)


@dataclass
class FirstStage:
    """A first stage: retrieval from a corpus, or BM25 over each query's given candidates."""

    name: str
    retriever: Retriever
    documents: dict[str, str]  # doc_id -> text of every indexed document
    over_corpus: bool
    top_k: int

    @classmethod
    def build(
        cls, config: RetrieverConfig, data: RelevanceData, *, progress: bool = True, encoder: DenseEncoder | None = None
    ) -> FirstStage:
        """The first stage over ``data``'s corpus (else BM25 over each query's given
        candidates); a dense retriever with ``encoder``'s settings shares its model."""
        documents = data.documents()
        if data.corpus is not None:
            retriever = build_retriever(config, documents, progress=progress, encoder=encoder)
            return cls(config.kind, retriever, documents, True, config.top_k)
        if config.kind != "bm25":
            raise ValueError(
                f"retriever.kind {config.kind!r}: this data has no corpus to retrieve from, so the first stage is BM25 "
                "over each query's given candidates (retriever.kind bm25); the dense model is the zero-shot rerank row"
            )
        log.info("no corpus: the first stage is BM25 over each query's given candidates")
        return cls("bm25", BM25(documents, config.bm25, progress=progress), documents, False, config.top_k)

    def describe(self) -> dict:
        where = f"top {self.top_k} of the corpus" if self.over_corpus else "each query's given candidates"
        return {"kind": self.name, "candidates": where, **self.retriever.describe()}

    def candidates(self, part: RelevanceData, full: RelevanceData, *, progress: bool = True) -> pd.DataFrame:
        """query_id, doc_id, first_stage_score, query, doc for the queries of ``part``."""
        if self.over_corpus:
            texts = part.query_texts()
            queries = {q: texts[q] for q in dict.fromkeys(part.pairs[QUERY_ID])}
            run = self.retriever.retrieve(queries, self.top_k, progress=progress)
        else:
            run = self.retriever.score_candidates(part.pairs, progress=progress)
        return attach_texts(run, full, self.name)


def with_gains(candidates: pd.DataFrame, part: RelevanceData, scheme: LabelScheme) -> pd.DataFrame:
    """``candidates`` with the judged gain of each (query, document); unjudged ones get 0."""
    qrels = qrels_of(part, scheme).drop_duplicates([QUERY_ID, DOC_ID])
    out = candidates.merge(qrels, on=[QUERY_ID, DOC_ID], how="left")
    out[GAIN] = out[GAIN].fillna(0).astype(int)
    return out


__all__ = ["DENSE_SCORE", "FIRST_STAGE_SCORE", "FirstStage", "add_dense", "fusion_components", "with_gains"]
