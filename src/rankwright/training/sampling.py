"""Training examples re-drawn every epoch from an explicit, seeded generator.

An example is one pair (``pairs`` mode, pointwise losses) or one query with its
positives and k sampled negatives (``groups`` mode). Negatives mix the query's own
listed (hard) negatives with random documents from the whole training pool, at a
configured ratio. Epoch e's draw depends only on (seed, e), so a resumed run sees
exactly the examples an uninterrupted run would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from rankwright.data.labels import LabelScheme
from rankwright.data.records import DOC, DOC_ID, HARD, LABEL, QUERY, QUERY_ID, SCORE
from rankwright.models import packing
from rankwright.training.config import SamplingConfig

log = logging.getLogger(__name__)

MODES = ("auto", "pairs", "groups")


@dataclass
class Pool:
    """The training data as arrays: queries, documents, and one row per judged pair."""

    queries: list[str]
    docs: list[str]
    pair_query: np.ndarray
    pair_doc: np.ndarray
    pair_label: np.ndarray  # label of the loss's kind, per pair
    pair_hard: np.ndarray  # listed negatives count as hard unless the data says otherwise
    pair_positive: np.ndarray
    negative_label: float  # label of a random pool negative
    by_query: list[np.ndarray]  # pair indices per query

    @classmethod
    def build(cls, pairs: pd.DataFrame, scheme: LabelScheme, label_kind: str) -> Pool:
        query_codes, query_ids = pd.factorize(pairs[QUERY_ID])
        doc_codes, _doc_ids = pd.factorize(pairs[DOC_ID])
        first_q = pairs.groupby(query_codes)[QUERY].first()
        first_d = pairs.groupby(doc_codes)[DOC].first()
        labels = pairs[LABEL]
        positive = scheme.relevant(labels)
        if label_kind == "binary":
            values, negative_label = positive.astype(np.float32), 0.0
        elif label_kind == "gain":
            values, negative_label = scheme.gains(labels).astype(np.float32), 0.0
        elif label_kind == "class":
            values = scheme.class_index(labels).astype(np.int64)
            negative_label = float(int(np.argmin([scheme.class_gains[c] for c in scheme.classes])))
        elif label_kind == "target":
            values, negative_label = scheme.target(labels).astype(np.float32), 0.0
        elif label_kind == "teacher":
            # Random pool negatives have no teacher score: NaN, which the losses mask.
            values, negative_label = pairs[SCORE].to_numpy(dtype=np.float32), float("nan")
        else:
            raise ValueError(f"unknown label kind {label_kind!r}")
        hard = pairs[HARD].fillna(1).to_numpy(dtype=bool) if HARD in pairs else np.ones(len(pairs), dtype=bool)
        by_query = [np.flatnonzero(query_codes == q) for q in range(len(query_ids))]
        return cls(
            queries=first_q.tolist(),
            docs=first_d.tolist(),
            pair_query=query_codes.astype(np.int64),
            pair_doc=doc_codes.astype(np.int64),
            pair_label=values,
            pair_hard=hard & ~positive,
            pair_positive=positive,
            negative_label=negative_label,
            by_query=by_query,
        )


@dataclass
class Example:
    query: int
    docs: list[int]
    labels: list[float]


class EpochExamples(Dataset):
    """Examples for one epoch at a time; ``set_epoch`` re-draws them."""

    def __init__(self, pool: Pool, config: SamplingConfig, grouped: bool, label_kind: str, seed: int):
        self.pool = pool
        self.config = config
        self.grouped = grouped
        self.label_kind = label_kind
        self.seed = seed
        self.epoch: int | None = None
        self.examples: list[Example] = []
        self.skipped_queries = 0
        if grouped:
            self.group_queries = [q for q, idx in enumerate(pool.by_query) if self._usable(idx)]
            dropped = len(pool.by_query) - len(self.group_queries)
            self.skipped_queries = dropped
            if dropped:
                log.info(
                    "%d of %d training queries have no usable group for this loss and are skipped",
                    dropped,
                    len(pool.by_query),
                )
        else:
            order = np.random.default_rng([seed, 1_000_003]).permutation(len(pool.pair_query))
            if config.max_pairs is not None:
                order = order[: config.max_pairs]
            self.pair_rows = np.sort(order) if config.max_pairs is None else order
        self.set_epoch(0)

    def _usable(self, idx: np.ndarray) -> bool:
        if self.label_kind == "gain":
            return len(idx) >= 2 or self.config.hard_ratio < 1.0
        return bool(self.pool.pair_positive[idx].any())

    def __len__(self) -> int:
        return len(self.group_queries) if self.grouped else len(self.pair_rows)

    def used(self) -> tuple[int, int]:
        """(queries, judged pairs) the examples are drawn from: in pairs mode the pairs
        kept (``max_pairs``) and their queries; in groups mode the queries with a usable
        group and their judged pairs."""
        if self.grouped:
            return len(self.group_queries), sum(len(self.pool.by_query[q]) for q in self.group_queries)
        return len(np.unique(self.pool.pair_query[self.pair_rows])), len(self.pair_rows)

    def __getitem__(self, i: int) -> Example:
        return self.examples[i]

    def set_epoch(self, epoch: int) -> None:
        if epoch == self.epoch:
            return
        self.epoch = epoch
        if not self.grouped:
            p = self.pool
            self.examples = [
                Example(int(p.pair_query[r]), [int(p.pair_doc[r])], [float(p.pair_label[r])]) for r in self.pair_rows
            ]
            return
        rng = np.random.default_rng([self.seed, epoch])
        self.examples = [self._draw_group(q, rng) for q in self.group_queries]

    def _random_docs(self, exclude: set[int], n: int, rng: np.random.Generator) -> list[int]:
        if n <= 0:
            return []
        n_docs = len(self.pool.docs)
        chosen: list[int] = []
        for _ in range(20):
            for d in rng.integers(0, n_docs, size=2 * n):
                if int(d) not in exclude and int(d) not in chosen:
                    chosen.append(int(d))
                    if len(chosen) == n:
                        return chosen
        return chosen

    def _draw_group(self, q: int, rng: np.random.Generator) -> Example:
        p, cfg = self.pool, self.config
        idx = p.by_query[q]
        judged = {int(d) for d in p.pair_doc[idx]}
        if self.label_kind == "gain":
            chosen = rng.permutation(idx)[: cfg.max_group_size]
            docs = [int(d) for d in p.pair_doc[chosen]]
            labels = [float(v) for v in p.pair_label[chosen]]
            n_random = cfg.max_group_size - len(docs) if cfg.hard_ratio < 1.0 else 0
            extra = self._random_docs(judged, min(n_random, cfg.negatives_per_group), rng)
            return Example(q, docs + extra, labels + [p.negative_label] * len(extra))
        positives = idx[p.pair_positive[idx]]
        if cfg.positives_per_group > 0 and len(positives) > cfg.positives_per_group:
            positives = rng.choice(positives, size=cfg.positives_per_group, replace=False)
        hard = idx[p.pair_hard[idx]]
        k = cfg.negatives_per_group
        n_hard = min(len(hard), round(k * cfg.hard_ratio))
        hard_pick = rng.choice(hard, size=n_hard, replace=False) if n_hard else np.array([], dtype=np.int64)
        random_docs = self._random_docs(judged, k - n_hard, rng)
        rows = np.concatenate([positives, hard_pick]).astype(np.int64)
        docs = [int(d) for d in p.pair_doc[rows]] + random_docs
        labels = [float(v) for v in p.pair_label[rows]] + [p.negative_label] * len(random_docs)
        return Example(q, docs, labels)

    def lengths(self, query_len: np.ndarray, doc_len: np.ndarray, max_length: int) -> np.ndarray:
        """Padded length each example will need (its longest pair)."""
        return np.array(
            [min(max_length, int(query_len[e.query] + doc_len[e.docs].max())) for e in self.examples], dtype=np.int64
        )


class LengthGroupedSampler(Sampler[int]):
    """A seeded per-epoch permutation; with ``group`` on, chunks of 50 batches are
    sorted by length so each batch pads to similar lengths, and the batches are then
    shuffled. ``batch_size`` is the global batch (per-device batch times processes), so
    every process count forms the same batches.

    The epoch is the dataset's (``set_epoch`` sets it there), so examples and order
    change together whichever of the two a data loader tells the epoch to; the order
    depends only on (seed, epoch), the same on every rank."""

    def __init__(self, dataset: EpochExamples, lengths_fn, batch_size: int, seed: int, group: bool = True):
        self.dataset = dataset
        self.lengths_fn = lengths_fn
        self.batch_size = batch_size
        self.seed = seed
        self.group = group

    @property
    def epoch(self) -> int:
        return self.dataset.epoch or 0

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch, 7])
        order = rng.permutation(len(self.dataset))
        if not self.group:
            return iter(order.tolist())
        lengths = self.lengths_fn()
        chunk = self.batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part = part[np.argsort(-lengths[part], kind="stable")]
            batches.extend(part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size))
        batch_order = rng.permutation(len(batches))
        return iter(np.concatenate([batches[b] for b in batch_order]).tolist())


def collate_examples(
    examples: list[Example],
    pool: Pool,
    head,
    label_dtype: torch.dtype,
    buckets: int = 1,
    pack: bool = False,
) -> dict:
    """Tokenise the pairs of a batch, pad them, and lay scores out as ``[groups, docs]``.

    With ``pack`` the pairs are laid end to end without padding instead (see
    :mod:`rankwright.models.packing`), shortest first: one chunk, whose attention runs
    in ``buckets`` groups of consecutive pairs, each padded to its own longest pair.

    With ``buckets`` > 1 the batch's pairs are sorted by length and cut into that many
    chunks, each padded to its own longest pair: the model sees the same batch (the
    loss and its gradient are those of the whole batch), with less padding to compute.

    No examples (a data-parallel rank's empty share of an epoch's last, short global
    batch) give a placeholder: one real pair for the model to run on, fully masked.
    """
    placeholder = not examples
    if placeholder:
        examples = [Example(0, [0], [0.0])]
    width = max(len(e.docs) for e in examples)
    index = torch.full((len(examples), width), -1, dtype=torch.long)
    labels = torch.zeros((len(examples), width), dtype=label_dtype)
    queries, docs = [], []
    for b, e in enumerate(examples):
        for j, (d, y) in enumerate(zip(e.docs, e.labels, strict=True)):
            index[b, j] = len(docs)
            labels[b, j] = y
            queries.append(pool.queries[e.query])
            docs.append(pool.docs[d])
    encoded = head.encode(queries, docs)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]["input_ids"]))
    if pack:
        features = [packing.pack([encoded[i] for i in order], groups=buckets)]
    else:
        size = -(-len(order) // max(1, buckets))
        chunks = [order[i : i + size] for i in range(0, len(order), size)]
        features = [dict(head.pad([encoded[i] for i in chunk])) for chunk in chunks]
    return {
        "features": features,
        "order": torch.tensor(order, dtype=torch.long),
        "index": index,
        "rw_labels": labels,
        "mask": (index >= 0) & (not placeholder),
    }
