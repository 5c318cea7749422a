"""Document cuts a request asks for, made on the model thread before its pairs are
encoded (the pair encoding then cuts to ``max_length`` as always, see
:mod:`rankwright.models.truncation`):

- ``max_tokens_per_doc`` (Cohere v2): each document keeps its first n tokens of the
  model's tokenizer (its last n with ``truncation_direction: left``);
- ``truncation_direction: left`` (TEI): a document too long for its pair keeps its
  last tokens, those the pair has room for, instead of its first;
- ``truncate: false`` (TEI): a pair longer than ``max_length`` is refused (413 naming
  the documents) instead of cut.

Texts are cut at token boundaries found with the tokenizer's offsets (a fast
tokenizer), so the text kept reads as sent; a left cut starts at a word. Very long texts
are first cut by characters (:func:`rankwright.models.truncation.precut`), so the work
is bounded by the tokens kept, not by the text's length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankwright.models.truncation import PRECUT_CHARS_PER_TOKEN, precut
from rankwright.serving.errors import InputError

_SPACES = (" ", "\n", "\t", "\r")


class TooLong(InputError):
    """A request with ``truncate: false`` holds pairs longer than ``max_length`` (413)."""


def pair_room(head: Any) -> int:
    """Query and document tokens a pair can hold (the special tokens or prompt aside)."""
    room = getattr(head, "room", None)
    return room if room is not None else head.max_length - head.pair_overhead


def _offsets(tokenizer: Any, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
    if not texts:
        return []
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(
            "max_tokens_per_doc, truncation_direction left and truncate false need a fast tokenizer; "
            "this model's is not"
        )
    enc = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    return [list(o) for o in enc["offset_mapping"]]


def _head_offsets(tokenizer: Any, texts: Sequence[str], wanted: Sequence[int]) -> list[list[tuple[int, int]]]:
    """Token offsets of each text's start: all of them, or at least ``wanted[i]``."""
    cut = [precut(t, max(1, n)) for t, n in zip(texts, wanted, strict=True)]
    offsets = _offsets(tokenizer, cut)
    again = [
        i for i, (t, c, o) in enumerate(zip(texts, cut, offsets, strict=True)) if len(c) < len(t) and len(o) < wanted[i]
    ]
    for i, whole in zip(again, _offsets(tokenizer, [texts[i] for i in again]), strict=True):
        offsets[i] = whole
    return offsets


def _tail(text: str, tokens: int) -> int:
    """Where a cut of ``text`` that keeps its last ``tokens`` tokens or more may start:
    after a whitespace about ``tokens * PRECUT_CHARS_PER_TOKEN`` characters from its end."""
    limit = max(1, tokens) * PRECUT_CHARS_PER_TOKEN
    if len(text) <= limit:
        return 0
    start = len(text) - limit
    found = [i for i in (text.find(c, start, start + limit // 2) for c in _SPACES) if i >= 0]
    return min(found) + 1 if found else 0


def _tail_offsets(tokenizer: Any, texts: Sequence[str], wanted: Sequence[int]) -> list[list[tuple[int, int]]]:
    """Token offsets (in the whole text) of each text's end: all, or at least ``wanted[i]``."""
    starts = [_tail(t, n) for t, n in zip(texts, wanted, strict=True)]
    offsets = _offsets(tokenizer, [t[s:] for t, s in zip(texts, starts, strict=True)])
    out = [[(a + s, b + s) for a, b in o] for o, s in zip(offsets, starts, strict=True)]
    again = [i for i, o in enumerate(out) if starts[i] and len(o) < wanted[i]]
    for i, whole in zip(again, _offsets(tokenizer, [texts[i] for i in again]), strict=True):
        out[i] = whole
    return out


def keep_first(tokenizer: Any, texts: Sequence[str], keep: Sequence[int]) -> list[str]:
    """Each text cut after its first ``keep[i]`` tokens (whole when it has no more)."""
    offsets = _head_offsets(tokenizer, texts, [k + 1 for k in keep])
    return [t if len(o) <= k else t[: o[k - 1][1]] for t, o, k in zip(texts, offsets, keep, strict=True)]


def keep_last(tokenizer: Any, texts: Sequence[str], keep: Sequence[int]) -> list[str]:
    """Each text cut before its last ``keep[i]`` tokens, at the start of a word (whole
    when it has no more)."""
    offsets = _tail_offsets(tokenizer, texts, [k + 1 for k in keep])
    out = []
    for text, o, k in zip(texts, offsets, keep, strict=True):
        if len(o) <= k:
            out.append(text)
            continue
        start = o[len(o) - k][0]
        if start > 0 and not text[start - 1].isspace():  # inside a word: from the next one
            spaces = [i for i in (text.find(c, start) for c in _SPACES) if i >= 0]
            start = min(spaces) + 1 if spaces else len(text)
        out.append(text[start:].lstrip())
    return out


class DocumentsAlone:
    """What the cuts measure for a bi-encoder: each document is encoded alone, so its
    room is ``max_length`` less its special tokens, whatever the query."""

    documents_alone = True

    def __init__(self, tokenizer: Any, max_length: int):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.room = max_length - tokenizer.num_special_tokens_to_add(pair=False)


def _query_tokens(head: Any, query: str, room: int) -> int:
    """The query's share of a pair's room (none when documents are encoded alone)."""
    if getattr(head, "documents_alone", False):
        return 0
    return len(_head_offsets(head.tokenizer, [query], [room + 1])[0])


def document_room(head: Any, query: str) -> int:
    """Document tokens a pair with ``query`` keeps when the document is long (see
    :func:`rankwright.models.truncation.pair_budget`)."""
    room = pair_room(head)
    query_tokens = _query_tokens(head, query, room)
    return room - query_tokens if query_tokens < room else room - room // 2


def overlong(head: Any, query: str, texts: Sequence[str]) -> list[int]:
    """The indices of the texts whose pair with ``query`` is longer than ``max_length``
    (for a bi-encoder: the documents longer than ``max_length`` alone)."""
    room = pair_room(head)
    query_tokens = _query_tokens(head, query, room)
    if query_tokens >= room:
        return list(range(len(texts)))
    budget = room - query_tokens
    offsets = _head_offsets(head.tokenizer, texts, [budget + 1] * len(texts))
    return [i for i, o in enumerate(offsets) if len(o) > budget]
