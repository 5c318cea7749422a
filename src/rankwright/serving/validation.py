"""Checks of a rerank request: before its body is parsed (:func:`max_body_bytes`, the
body-size limit enforced while the body is read; :func:`accepted_request_id`), and once
parsed, before it joins a batch, so that one request's input never fails the others':

- :func:`check_limits`: 413 naming the limit (and the first offending document);
- :func:`check_texts`: 422 naming every query or document that is empty or only
  whitespace, or holds text no tokenizer can take (a lone UTF-16 surrogate such as
  ``"\\ud800"``, valid in JSON but not in UTF-8), and document ids that cannot be
  echoed back for the same reason.
"""

from __future__ import annotations

import re
from typing import Any

from rankwright.serving.config import ServingConfig
from rankwright.serving.errors import ApiError
from rankwright.serving.schema import RerankRequest

#: at most this many bad documents are named in one message (the count is always given)
MAX_NAMED = 20
#: bytes per character a body may take (UTF-8 needs at most 4)
BYTES_PER_CHAR = 4
#: body bytes allowed per document besides its text (quotes, an id, its first-stage score)
DOCUMENT_OVERHEAD = 256
#: body bytes allowed besides the documents and the query (field names, top_n, ...)
BODY_OVERHEAD = 65_536
#: the longest X-Request-ID taken from a client (else a generated id is used)
MAX_REQUEST_ID = 128
_REQUEST_ID = re.compile(rf"[\x20-\x7e]{{1,{MAX_REQUEST_ID}}}")


def max_body_bytes(config: ServingConfig) -> int:
    """The largest request body: ``max_documents`` documents of ``max_document_chars``
    characters at 4 bytes each (UTF-8) plus ``DOCUMENT_OVERHEAD`` each, the query at 4
    bytes a character, and ``BODY_OVERHEAD``. (Text sent as ``\\uXXXX`` escapes takes 6
    bytes a character: send long non-ASCII text as UTF-8.)"""
    per_document = config.max_document_chars * BYTES_PER_CHAR + DOCUMENT_OVERHEAD
    return config.max_documents * per_document + config.max_query_chars * BYTES_PER_CHAR + BODY_OVERHEAD


def accepted_request_id(header: str | None) -> str | None:
    """The client's ``X-Request-ID`` when it is 1 to 128 printable ASCII characters (not
    only spaces), else None (the server makes one)."""
    if header is None or not header.strip() or not _REQUEST_ID.fullmatch(header):
        return None
    return header


SURROGATE = "a lone UTF-16 surrogate (such as \\ud800)"


def check_limits(body: RerankRequest, texts: list[str], config: ServingConfig) -> None:
    """413 naming the limit (and the offending document) a request exceeds."""
    if len(texts) > config.max_documents:
        raise ApiError(413, f"{len(texts)} documents, more than max_documents={config.max_documents} per request")
    if len(body.query) > config.max_query_chars:
        raise ApiError(
            413, f"the query has {len(body.query)} characters, more than max_query_chars={config.max_query_chars}"
        )
    field = "texts" if body.tei else "documents"
    for i, text in enumerate(texts):
        if len(text) > config.max_document_chars:
            raise ApiError(
                413,
                f"{field}[{i}] has {len(text)} characters, more than max_document_chars={config.max_document_chars}",
            )


def unencodable_at(text: str) -> int | None:
    """The index of the first character that UTF-8 cannot encode (a lone surrogate), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return err.start
    return None


def check_texts(body: RerankRequest, texts: list[str]) -> None:
    """422 naming each empty, whitespace-only or unencodable text (see the module docstring)."""
    problems: list[str] = []
    if unencodable_at(body.query) is not None:
        problems.append(f"query: {SURROGATE}, which no tokenizer can take")
    field = "texts" if body.tei else "documents"
    blank = [f"{field}[{i}]" for i, text in enumerate(texts) if not text.strip()]
    if blank:
        problems.append(name_each(blank, "empty or only whitespace"))
    broken = [f"{field}[{i}]" for i, text in enumerate(texts) if unencodable_at(text) is not None]
    if broken:
        problems.append(name_each(broken, f"{SURROGATE}, which no tokenizer can take"))
    echoed = []
    for i, doc in enumerate(body.documents or []):
        if not isinstance(doc, str):
            fields = doc.fields()
            if body.rank_fields is None:
                fields.pop("text", None)  # the ranked text, checked above
            echoed += unencodable_fields(fields, f"documents[{i}]")
    if echoed:
        problems.append(name_each(echoed, f"{SURROGATE}, which cannot be echoed back"))
    if problems:
        raise ApiError(422, "; ".join(problems))


def unencodable_fields(value: Any, where: str) -> list[str]:
    """Where in ``value`` (a JSON value) a key or a string holds text UTF-8 cannot encode."""
    if isinstance(value, str):
        return [where] if unencodable_at(value) is not None else []
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            name = f"{where}.{str(key).encode('utf-8', 'backslashreplace').decode()}"
            out += [name] if unencodable_at(str(key)) is not None else unencodable_fields(item, name)
        return out
    if isinstance(value, list):
        return [w for i, item in enumerate(value) for w in unencodable_fields(item, f"{where}[{i}]")]
    return []


def name_each(where: list[str], what: str) -> str:
    """``documents[1], documents[4]: <what>`` (at most MAX_NAMED named, then a count)."""
    shown = ", ".join(where[:MAX_NAMED])
    if len(where) > MAX_NAMED:
        shown += f" and {len(where) - MAX_NAMED} more"
    return f"{shown}: {what}"
