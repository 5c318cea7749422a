"""Bounded truncation of (query, document) pairs, shared by the cross-encoder and the
generative heads.

Both heads tokenize each pair once, without the tokenizer's own truncation (which
builds overflow fragments of every cut sequence: with a long query and a long document
``longest_first`` made thousands per pair), and cut token ids themselves:

- the document is cut first: a query that leaves room for at least one document token
  is kept whole and the document gets the rest;
- a query that alone fills the room keeps ``max(room - document tokens, room // 2)``
  tokens: at most half the room when the document is long (all of the room the document
  does not use when it is short), and the document gets the rest. These are the lengths
  the tokenizers' ``longest_first`` truncation gives, without its overflow.

``room`` is ``max_length`` less the tokens every pair has besides its query and document
(special tokens, the prompt). To bound the work on very long texts, a text longer than
``max_length * PRECUT_CHARS_PER_TOKEN`` characters is first cut at a whitespace before
that length; when what is left has fewer tokens than the room (an unusually sparse
text), the pair is encoded again from the whole text, so the tokens kept are always
those of the whole text.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

#: texts longer than max_length * this many characters are cut (at a whitespace) before tokenizing
PRECUT_CHARS_PER_TOKEN = 16
_SPACES = (" ", "\n", "\t", "\r")


def precut(text: str, max_length: int) -> str:
    """``text``, or its start up to a whitespace at most ``max_length *
    PRECUT_CHARS_PER_TOKEN`` characters in (the whole text when there is no whitespace in
    the second half of that window). Cutting between words leaves the tokens before the
    cut as they are in the whole text."""
    limit = max_length * PRECUT_CHARS_PER_TOKEN
    if len(text) <= limit:
        return text
    space = max(text.rfind(c, limit // 2, limit + 1) for c in _SPACES)
    if space < 0:
        return text
    cut = text[:space].rstrip()
    return cut if cut else text


def was_precut(original: str, used: str) -> bool:
    return len(used) < len(original)


def pair_budget(query_tokens: int, doc_tokens: int, room: int) -> tuple[int, int]:
    """How many query and document tokens a pair keeps (see the module docstring)."""
    room = max(0, room)
    if query_tokens + doc_tokens <= room:
        return query_tokens, doc_tokens
    if query_tokens < room:
        return query_tokens, room - query_tokens
    keep_query = max(room - doc_tokens, room // 2)
    return keep_query, min(doc_tokens, room - keep_query)


_runs: list[Counter] = []


@contextmanager
def cut_warnings_once() -> Iterator[Counter]:
    """Inside (a training run: the heads encode every batch apart), :func:`warn_cut`
    counts, and each of its warnings is logged once at the end with the run's total;
    outside, each call warns for itself. Usable as a decorator."""
    counts: Counter = Counter()
    _runs.append(counts)
    try:
        yield counts
    finally:
        _runs.remove(counts)
        for (message, max_length), count in counts.items():
            log.warning("in all batches of this run, " + message, count, max_length)


def warn_cut(message: str, count: int, max_length: int) -> None:
    """Warn that ``count`` pairs were cut: ``message`` takes the count and ``max_length``
    (``%d``); counted for one warning at the end inside :func:`cut_warnings_once`."""
    if not count:
        return
    if _runs:
        _runs[-1][message, max_length] += count
    else:
        log.warning(message, count, max_length)
