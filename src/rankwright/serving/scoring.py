"""Scoring a batch of rerank requests with one ``Reranker.logits`` call, then each
request's scores from its slice of the logits.

``relevance_score`` is a probability in [0, 1]:

- the model folder's calibration (``rankwright calibrate``) when it has one
  (``Reranker.calibrated_from_logits``);
- else, for one-output models, the sigmoid of the raw logit (generative yes/no models:
  P(yes), the sigmoid of the yes-minus-no logit);
- else, for class models, the expected gain of the class probabilities divided by the
  largest gain (already in [0, 1]).

Results are ordered by the model's own ranking score (``Reranker.scores_from_logits``,
the order of ``Reranker.rank``), or, for a fused model, by the fused score of the
request's ``first_stage_scores`` (``Reranker.fused_from_logits``, normalised within the
request), which each result then carries as ``fused_score``.

Before its pairs are encoded, a job gets the document cuts its request asks for
(``max_tokens_per_doc``, TEI's ``truncation_direction`` and ``truncate``; see
:mod:`rankwright.serving.cutting`); a job they refuse fails alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rankwright.inference.fusion import required_components
from rankwright.inference.reranker import Reranker
from rankwright.serving.cutting import DocumentsAlone, TooLong, document_room, keep_first, keep_last, overlong
from rankwright.serving.errors import Abandoned, InputError

#: what a tokenizer raises for text it cannot take (other errors are the server's)
TEXT_ERRORS = (TypeError, ValueError, UnicodeError)


@dataclass
class ScoreJob:
    """One request's pairs and how to order them."""

    query: str
    texts: list[str]
    first_stage_scores: list[float] | None = None
    fused: bool = False
    #: set when nobody waits for the result any more (the client left); read by the model thread
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: ``time.monotonic()`` after which nobody waits for the result (None: no deadline)
    deadline: float | None = None
    #: cut each document to this many tokens first (Cohere's max_tokens_per_doc)
    max_doc_tokens: int | None = None
    #: cut documents from their beginning, not their end (TEI's truncation_direction left)
    cut_left: bool = False
    #: refuse pairs over max_length instead of cutting them (TEI's truncate false)
    refuse_overlong: bool = False
    #: what the request calls its documents, for messages (``documents`` or ``texts``)
    field: str = "documents"


@dataclass
class Scored:
    """One request's result: document indices best first, and per document (in input
    order) the probability, the fused score (fused requests) and the token count."""

    order: list[int]
    relevance: np.ndarray
    fused: np.ndarray | None
    tokens: int | None
    #: the model's raw score per document: the logit (yes - no for generative models), a
    #: class model's expected gain
    raw: np.ndarray | None = None


def relevance_probabilities(reranker: Reranker, logits: np.ndarray) -> np.ndarray:
    """P(relevant) per pair from raw logits (see the module docstring)."""
    if reranker.metadata.calibration:
        probs = reranker.calibrated_from_logits(logits)
    elif reranker.metadata.num_labels == 1:
        probs = reranker.scores_from_logits(logits, probabilities=True)
    else:
        probs = reranker.scores_from_logits(logits)
    return np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)


def warm_up(reranker: Reranker) -> None:
    """Score one pair (and load a fusion's dense model, if it has one), so the first
    request does not pay for lazy initialisation."""
    reranker.logits(["warm up"], ["warm up"], progress=False)
    if _fusion_has_dense(reranker):
        reranker.dense_scores(["warm up"], ["warm up"])


def _fusion_has_dense(reranker: Reranker) -> bool:
    """Whether the model's fusion weighs a dense score that its dense model computes."""
    fusion = reranker.metadata.fusion
    return bool(fusion and "dense" in required_components(fusion) and fusion.get("dense_model"))


def score_job(
    reranker: Reranker, job: ScoreJob, logits: np.ndarray, tokens: int | None, dense: np.ndarray | None = None
) -> Scored:
    """One request's result from its own rows of the batch's logits (and of the batch's
    dense cosines, for a fusion with a dense model)."""
    relevance = relevance_probabilities(reranker, logits)
    fused = None
    if job.fused:
        queries = [job.query] * len(job.texts)
        fused = np.asarray(
            reranker.fused_from_logits(logits, queries, job.texts, job.first_stage_scores, dense_scores=dense),
            dtype=np.float64,
        )
        key = fused
    else:
        key = np.asarray(reranker.scores_from_logits(logits), dtype=np.float64)
    order = np.argsort(-key, kind="stable")
    raw = np.asarray(reranker.raw_scalar(logits), dtype=np.float64)
    return Scored([int(i) for i in order], relevance, fused, tokens, raw)


def apply_cuts(head, job: ScoreJob) -> None:
    """The document cuts ``job`` asks for (see rankwright.serving.cutting), made once:
    its texts are replaced. Raises :class:`TooLong` for ``refuse_overlong`` pairs."""
    texts = job.texts
    if job.max_doc_tokens:
        keep = [job.max_doc_tokens] * len(texts)
        texts = keep_last(head.tokenizer, texts, keep) if job.cut_left else keep_first(head.tokenizer, texts, keep)
    if job.refuse_overlong:
        bad = overlong(head, job.query, texts)
        if bad:
            where = ", ".join(f"{job.field}[{i}]" for i in bad[:20]) + (
                f" and {len(bad) - 20} more" if len(bad) > 20 else ""
            )
            raise TooLong(
                f"{where}: longer than the model's max_length={head.max_length} tokens with the query; "
                'send "truncate": true to cut them'
            )
    elif job.cut_left:
        texts = keep_last(head.tokenizer, texts, [document_room(head, job.query)] * len(texts))
    job.texts = texts
    job.max_doc_tokens, job.cut_left, job.refuse_overlong = None, False, False


def job_alive(job: ScoreJob) -> bool:
    """Whether someone still waits for ``job``: not cancelled, its deadline not passed."""
    return not job.cancelled.is_set() and (job.deadline is None or time.monotonic() < job.deadline)


def score_jobs(
    reranker: Reranker, jobs: Sequence[ScoreJob], *, batch_size: int = 64, count_tokens: bool = True
) -> list[Scored | Exception]:
    """All jobs' pairs in one ``reranker.logits`` call, and the fused jobs' pairs in one
    dense-model call when the fusion has a dense component; one result (or the exception
    of that job alone, e.g. a fusion error) per job. An error of a model call itself
    raises (every job of the batch failed; the batcher then scores them one by one). A
    single job whose texts its tokenizer refuses raises an :class:`InputError` naming them.

    A job nobody waits for any more (:func:`job_alive`) is not scored: when it is found
    before the model call, or before any of the model's forward batches holding its
    pairs, those batches skip it; it gets an :class:`Abandoned` error."""
    alive = [job_alive(job) for job in jobs]
    live = [job for job, wanted in zip(jobs, alive, strict=True) if wanted]
    scored = iter(_score_live(reranker, live, batch_size, count_tokens) if live else [])
    return [next(scored) if wanted else Abandoned("nobody waits for it") for wanted in alive]


def _score_live(
    reranker: Reranker, jobs: Sequence[ScoreJob], batch_size: int, count_tokens: bool
) -> list[Scored | Exception]:
    """The jobs' cuts, then the jobs their cuts did not refuse scored together."""
    refused: dict[int, Exception] = {}
    measure = _cut_measure(reranker)
    for k, job in enumerate(jobs):
        try:
            apply_cuts(measure, job)
        except InputError as err:
            refused[k] = err
        except TEXT_ERRORS as err:
            refused[k] = InputError(f"the model's tokenizer cannot take the {job.field} ({type(err).__name__}: {err})")
    kept = [job for k, job in enumerate(jobs) if k not in refused]
    scored = iter(_score_cut(reranker, kept, batch_size, count_tokens) if kept else [])
    return [refused[k] if k in refused else next(scored) for k in range(len(jobs))]


def _cut_measure(reranker: Reranker) -> Any:
    """What the cuts measure texts with: the pair head, or a bi-encoder's documents alone."""
    if reranker.head is not None:
        return reranker.head
    return DocumentsAlone(reranker.model.tokenizer, reranker.metadata.max_length)


def _score_cut(
    reranker: Reranker, jobs: Sequence[ScoreJob], batch_size: int, count_tokens: bool
) -> list[Scored | Exception]:
    queries = [job.query for job in jobs for _ in job.texts]
    docs = [text for job in jobs for text in job.texts]
    try:
        if reranker.head is None:
            logits, tokens = _bi_encoder_logits(reranker, queries, docs, batch_size, count_tokens)
        else:
            logits, tokens = _pair_logits(reranker, jobs, queries, docs, batch_size, count_tokens)
    except TEXT_ERRORS as err:
        if len(jobs) == 1:  # a request alone: name its texts the tokenizer refuses
            raise _input_error(reranker, jobs[0], err) from err
        raise
    dense = _dense_of_fused_jobs(reranker, jobs, queries, docs)
    results: list[Scored | Exception] = []
    start = 0
    for job in jobs:
        end = start + len(job.texts)
        try:
            if np.isnan(logits[start:end]).any():
                raise Abandoned("nobody waits for it: its remaining pairs were not scored")
            job_dense = None if dense is None else dense[start:end]
            job_tokens = sum(tokens[start:end]) if tokens else None
            results.append(score_job(reranker, job, logits[start:end], job_tokens, job_dense))
        except Exception as err:
            results.append(err)
        start = end
    return results


def _pair_logits(
    reranker: Reranker, jobs: Sequence[ScoreJob], queries: list[str], docs: list[str], batch_size: int, count: bool
) -> tuple[np.ndarray, list[int] | None]:
    """The pairs' logits, skipping the forward batches of jobs nobody waits for, and
    each pair's token count."""
    features = reranker.head.encode(queries, docs)  # once: for the model and for the token counts
    owner = [job for job in jobs for _ in job.texts]
    logits = reranker.logits_of_features(
        features, batch_size=batch_size, progress=False, skip=lambda i: not job_alive(owner[i])
    )
    return logits, [len(f["input_ids"]) for f in features] if count else None


def _bi_encoder_logits(
    reranker: Reranker, queries: list[str], docs: list[str], batch_size: int, count: bool
) -> tuple[np.ndarray, list[int] | None]:
    """A bi-encoder's cosines (query and documents embedded apart, all of the batch's
    pairs: nothing is skipped), and each pair's query + document tokens."""
    logits = reranker.logits(queries, docs, batch_size=batch_size, progress=False)
    if not count:
        return logits, None
    unique = list(dict.fromkeys(queries + docs))
    ids = reranker.model.tokenizer(unique, truncation=True, max_length=reranker.metadata.max_length)["input_ids"]
    lengths = dict(zip(unique, map(len, ids), strict=True))
    return logits, [lengths[q] + lengths[d] for q, d in zip(queries, docs, strict=True)]


def _input_error(reranker: Reranker, job: ScoreJob, err: Exception) -> Exception:
    """An :class:`InputError` naming the query or the documents of ``job`` that the
    tokenizer refuses alone (at most one encode per document, only after a failure), or
    ``err`` itself when each encodes on its own."""
    if reranker.head is None:
        return InputError(
            f"the model's tokenizer cannot take the query or the {job.field} ({type(err).__name__}: {err})"
        )
    bad: list[str] = []
    for i, text in enumerate(job.texts):
        try:
            reranker.head.encode([job.query], [text])
        except TEXT_ERRORS:
            bad.append(f"{job.field}[{i}]")
            if i == 0:  # the first fails: maybe the query; try it with a plain document
                try:
                    reranker.head.encode([job.query], ["x"])
                except TEXT_ERRORS:
                    return InputError(f"the model's tokenizer cannot take the query ({type(err).__name__}: {err})")
    if not bad:
        return err
    return InputError(f"the model's tokenizer cannot take {', '.join(bad)} ({type(err).__name__}: {err})")


def _dense_of_fused_jobs(
    reranker: Reranker, jobs: Sequence[ScoreJob], queries: list[str], docs: list[str]
) -> np.ndarray | None:
    """The fusion's dense cosine of every fused job's pairs (``queries``/``docs``: all
    jobs' pairs; NaN for the other jobs' rows), in one encoder call; None when no job
    needs it."""
    if not _fusion_has_dense(reranker):
        return None
    fused = np.array([job.fused for job in jobs for _ in job.texts], dtype=bool)
    if not fused.any():
        return None
    out = np.full(len(fused), np.nan)
    out[fused] = reranker.dense_scores(
        [q for q, f in zip(queries, fused, strict=True) if f], [d for d, f in zip(docs, fused, strict=True) if f]
    )
    return out
