"""Teachers: something that scores (query, document) pairs, used to filter false
negatives while mining and as soft labels for distillation.

- ``dense``: the cosine similarity of a sentence-embedding model (in [-1, 1]);
- a trained rankwright model folder: its raw score (the logit; yes - no logit for a
  generative model; the expected gain for a class model), the scale distillation uses.
"""

from __future__ import annotations

import logging

import numpy as np

from rankwright.mining.config import TeacherConfig
from rankwright.retrieval.dense import DenseConfig, DenseEncoder

log = logging.getLogger(__name__)


class Teacher:
    name = "teacher"

    def score(self, queries: list[str], docs: list[str], *, progress: bool = True) -> np.ndarray:
        raise NotImplementedError


def teacher_name(config: TeacherConfig) -> str:
    """What the configured teacher is, without loading it."""
    if str(config.model).lower() == "dense":
        return f"dense cosine ({config.dense.model})"
    return f"rankwright model {config.model} (raw score)"


class DenseTeacher(Teacher):
    def __init__(self, config: DenseConfig, encoder: DenseEncoder | None = None):
        self.encoder = DenseEncoder.reuse(config, encoder)
        self.name = f"dense cosine ({config.model})"

    def score(self, queries, docs, *, progress=True):
        return self.encoder.cosine(queries, docs, progress=progress)


class RerankerTeacher(Teacher):
    def __init__(self, path: str, batch_size: int):
        from rankwright.inference.reranker import Reranker

        self.reranker = Reranker.from_pretrained(path)
        self.batch_size = batch_size
        self.name = f"rankwright model {path} (raw score)"

    def score(self, queries, docs, *, progress=True):
        logits = self.reranker.logits(queries, docs, batch_size=self.batch_size, progress=progress)
        return np.asarray(self.reranker.raw_scalar(logits), dtype=np.float64)


def load_teacher(config: TeacherConfig, encoder: DenseEncoder | None = None) -> Teacher | None:
    """The configured teacher; a dense teacher reuses ``encoder`` when it has the same
    settings, instead of loading the model again."""
    config.check()
    if not config.enabled:
        return None
    if str(config.model).lower() == "dense":
        return DenseTeacher(config.dense, encoder)
    return RerankerTeacher(str(config.model), config.batch_size)


def false_negative_mask(candidates: np.ndarray, positives: np.ndarray, config: TeacherConfig) -> np.ndarray:
    """True for candidates the filter drops as likely false negatives, given the
    teacher scores of the query's candidates and of its positives."""
    drop = np.zeros(len(candidates), dtype=bool)
    if config.max_score is not None:
        drop |= candidates >= config.max_score
    if len(positives) and (config.margin is not None or config.relative is not None):
        ref = float({"max": np.max, "min": np.min, "mean": np.mean}[config.reference](positives))
        if config.margin is not None:
            drop |= candidates > ref - config.margin
        if config.relative is not None:
            if ref <= 0:
                raise ValueError(
                    f"teacher.relative needs positive teacher scores, but a query's positive scores {ref:.4f}; "
                    "use teacher.margin for logits"
                )
            drop |= candidates > config.relative * ref
    return drop
