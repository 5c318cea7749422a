"""Mine hard negatives: per query, the documents a first stage ranks in a window
(e.g. ranks 10..100), without the query's positives, without those a teacher deems
likely false negatives, sampled ("top" or "random") down to n per query.

Queries are processed in blocks, so memory stays bounded by the block size and the
retriever's index, and a teacher scores a whole block in large batches."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rankwright.data.labels import LabelScheme
from rankwright.data.records import DOC_ID, LABEL, QUERY_ID, RelevanceData
from rankwright.mining.config import SAMPLING, MiningConfig  # noqa: F401 (SAMPLING: re-exported)
from rankwright.mining.teacher import Teacher, TeacherConfig, false_negative_mask
from rankwright.retrieval.base import Retriever, top_k_rows

log = logging.getLogger(__name__)


@dataclass
class Doc:
    doc_id: str
    retriever_score: float | None  # None: an approximate index did not find it
    rank: int | None  # rank in the first stage, None beyond the last mined rank
    teacher_score: float | None = None


@dataclass
class Group:
    query_id: str
    query: str
    positives: list[Doc]
    negatives: list[Doc]


@dataclass
class MiningStats:
    queries_in: int = 0
    queries_without_positive: int = 0
    queries_written: int = 0
    queries_short_of_negatives: int = 0
    positives: int = 0
    positives_in_first_stage: int = 0
    candidates_in_window: int = 0
    dropped_by_teacher: int = 0
    negatives: int = 0
    examples_dropped: list[str] = field(default_factory=list)

    def add(self, other: MiningStats) -> None:
        """Counts of another block added to these (the first five examples kept)."""
        for name, value in other.__dict__.items():
            if name == "examples_dropped":
                self.examples_dropped.extend(value[: 5 - len(self.examples_dropped)])
            else:
                setattr(self, name, getattr(self, name) + value)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "examples_dropped"}
        out["positive_recall_at_last_rank"] = self.positives_in_first_stage / self.positives if self.positives else None
        out["examples_dropped_by_teacher"] = self.examples_dropped
        return out


@dataclass
class MineBlock:
    """Queries mined together (retrieved, teacher-scored, sampled): the unit of work
    that runs in this process or on a Dask worker with the same result."""

    queries: dict[str, str]  # query_id -> text, each with a relevant document
    positives: dict[str, list[str]]


def positives_by_query(data: RelevanceData, scheme: LabelScheme) -> dict[str, list[str]]:
    relevant = data.pairs[scheme.relevant(data.pairs[LABEL])]
    return relevant.groupby(QUERY_ID, sort=False)[DOC_ID].agg(list).to_dict()


def _sample(n_candidates: int, config: MiningConfig, query_id: str) -> np.ndarray:
    """Positions of the kept candidates, in rank order. Random draws are seeded by
    (seed, query id): a query gets the same negatives whatever else is mined with it."""
    n = min(config.negatives, n_candidates)
    if config.sampling == "top":
        return np.arange(n)
    key = int(hashlib.sha1(query_id.encode("utf-8")).hexdigest()[:15], 16)
    rng = np.random.default_rng([config.seed, key])
    return np.sort(rng.choice(n_candidates, size=n, replace=False))


class Miner:
    """Mines the queries of a data set against one retriever's index; ``documents``
    are the texts it indexed. Counts accumulate in :attr:`stats`."""

    def __init__(
        self,
        retriever: Retriever,
        documents: dict[str, str],
        config: MiningConfig,
        teacher: Teacher | None = None,
        teacher_config: TeacherConfig | None = None,
        *,
        progress: bool = True,
    ):
        config.check()
        self.retriever = retriever
        self.documents = documents
        self.config = config
        self.teacher = teacher
        self.teacher_config = teacher_config or TeacherConfig()
        self.progress = progress
        self.stats = MiningStats()
        self._ids = retriever.doc_ids.astype(str).tolist()  # Python str: ids go to JSON and messages

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the teacher: a Dask worker loads the configured one once (``load_teacher``)."""
        return {**self.__dict__, "teacher": None, "_has_teacher": self.teacher_config.enabled}

    def __setstate__(self, state: dict[str, Any]) -> None:
        has_teacher = state.pop("_has_teacher")
        self.__dict__.update(state)
        if has_teacher:
            from rankwright.cluster.cache import cached
            from rankwright.mining.teacher import load_teacher

            encoder = getattr(self.retriever, "encoder", None)  # a dense teacher shares it (same settings)
            key = ("teacher", repr(self.teacher_config))
            self.teacher = cached(key, lambda: load_teacher(self.teacher_config, encoder))

    def plan(self, data: RelevanceData, scheme: LabelScheme) -> list[MineBlock]:
        """The queries of ``data`` that have a relevant document, in blocks of ``config.block``."""
        positives = positives_by_query(data, scheme)
        texts = data.query_texts()
        query_ids = list(dict.fromkeys(data.pairs[QUERY_ID]))
        without = [q for q in query_ids if q not in positives]
        self.stats.queries_in += len(query_ids)
        self.stats.queries_without_positive += len(without)
        if without:
            log.info("%d of %d queries have no relevant document and are skipped", len(without), len(query_ids))
        usable = [q for q in query_ids if q in positives]
        size = self.config.block
        return [
            MineBlock({q: texts[q] for q in usable[i : i + size]}, {q: positives[q] for q in usable[i : i + size]})
            for i in range(0, len(usable), size)
        ]

    def run(self, data: RelevanceData, scheme: LabelScheme) -> Iterator[Group]:
        """Mined groups for the queries of ``data`` that have a relevant document, block by block."""
        for block in self.plan(data, scheme):
            groups, stats = self.mine_block(block)
            self.stats.add(stats)
            yield from groups

    def mine_block(self, block: MineBlock) -> tuple[list[Group], MiningStats]:
        """The groups of a block's queries, and the block's counts."""
        stats = MiningStats()
        windows = [
            (qid, block.queries[qid], *self._window(scores, block.positives[qid], stats))
            for qid, scores in self.retriever.iter_scores(block.queries, progress=self.progress, k=self.config.ranks[1])
        ]
        return self._finish(windows, stats), stats

    def _window(self, scores: np.ndarray, positive_ids: list[str], stats: MiningStats) -> tuple[list[Doc], list[Doc]]:
        """The positives and the window's candidates (positives removed), in rank order."""
        pos_rows = self.retriever.rows_of(positive_ids)
        top = top_k_rows(scores, self.retriever.tie_rank, self.config.ranks[1])
        top = top[np.isfinite(scores[top])]  # an approximate index scores only what it found
        rank_of = {int(r): k for k, r in enumerate(top, start=1)}
        positives = [Doc(self._ids[r], _finite(scores[r]), rank_of.get(int(r))) for r in pos_rows]
        excluded = set(pos_rows.tolist())
        candidates = [
            Doc(self._ids[r], float(scores[r]), k)
            for k, r in enumerate(top, start=1)
            if k >= self.config.ranks[0] and int(r) not in excluded
        ]
        stats.positives += len(positives)
        stats.positives_in_first_stage += sum(d.rank is not None for d in positives)
        stats.candidates_in_window += len(candidates)
        return positives, candidates

    def _finish(self, block, stats: MiningStats) -> list[Group]:
        """Filter (teacher), sample and count a block of queries. Without a filter, only
        the positives and the sampled negatives need teacher scores."""
        filtering = self.teacher is not None and self.teacher_config.filters
        if filtering:
            self._teacher_scores([(query, positives + candidates) for _, query, positives, candidates in block])
        groups = []
        for qid, query, positives, candidates in block:
            if filtering:
                candidates = self._filter(qid, positives, candidates, stats)
            chosen = [candidates[i] for i in _sample(len(candidates), self.config, qid)]
            stats.negatives += len(chosen)
            stats.queries_short_of_negatives += len(chosen) < self.config.negatives
            stats.queries_written += 1
            groups.append(Group(qid, query, positives, chosen))
        if self.teacher is not None and not filtering:
            self._teacher_scores([(g.query, g.positives + g.negatives) for g in groups])
        return groups

    def _filter(self, qid: str, positives: list[Doc], candidates: list[Doc], stats: MiningStats) -> list[Doc]:
        drop = false_negative_mask(
            np.array([d.teacher_score for d in candidates], dtype=float),
            np.array([d.teacher_score for d in positives], dtype=float),
            self.teacher_config,
        )
        stats.dropped_by_teacher += int(drop.sum())
        if drop.any() and len(stats.examples_dropped) < 5:
            d = candidates[int(np.argmax(drop))]
            stats.examples_dropped.append(f"query {qid!r}: document {d.doc_id!r} (rank {d.rank})")
        return [d for d, dropped in zip(candidates, drop, strict=True) if not dropped]

    def _teacher_scores(self, items: list[tuple[str, list[Doc]]]) -> None:
        """Fill ``teacher_score`` of the documents of every (query, documents) in one call."""
        docs = [d for _, ds in items for d in ds]
        queries = [query for query, ds in items for _ in ds]
        if not docs:
            return
        scores = self.teacher.score(queries, [self.documents[d.doc_id] for d in docs], progress=self.progress)
        for d, s in zip(docs, scores, strict=True):
            d.teacher_score = float(s)


def _finite(score: float) -> float | None:
    return float(score) if np.isfinite(score) else None


def group_record(group: Group, documents: dict[str, str], with_teacher: bool, retriever: str) -> dict[str, Any]:
    """A FlagEmbedding-layout line (``query``, ``pos``, ``neg``, teacher ``pos_scores``/
    ``neg_scores``) whose documents carry their ids, first-stage score and rank."""

    def entry(d: Doc) -> dict[str, Any]:
        out = {"doc_id": d.doc_id, "text": documents[d.doc_id], "retriever_score": d.retriever_score, "rank": d.rank}
        if d.teacher_score is not None:
            out["teacher_score"] = d.teacher_score
        return out

    record: dict[str, Any] = {
        "query_id": group.query_id,
        "query": group.query,
        "pos": [entry(d) for d in group.positives],
        "neg": [entry(d) for d in group.negatives],
    }
    if with_teacher:
        record["pos_scores"] = [d.teacher_score for d in group.positives]
        record["neg_scores"] = [d.teacher_score for d in group.negatives]
    record["retriever"] = retriever
    return record
