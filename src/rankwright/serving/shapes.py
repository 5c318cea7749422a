"""The request shapes ``POST /rerank`` takes (see :mod:`rankwright.serving.schema`) and
the answer of each.

Cohere / Jina (``documents``), answered ``{"id", "model", "results", "usage"}``:

- a document is a string or an object; an object is ranked on its ``text``, or, with
  ``rank_fields`` (Cohere v1), on the fields named, in that order: one field ranks on
  its value alone (as a string document would); several on ``"name: value"`` lines
  joined by newlines (the YAML-like form Cohere recommends for structured documents),
  skipping the fields a document lacks. Field values must be strings, numbers or
  booleans. ``return_documents`` echoes each object as sent, other fields included;
- ``max_tokens_per_doc`` (Cohere v2): each document keeps its first n tokens before
  pairing (see :mod:`rankwright.serving.cutting`).

TEI (``texts``), answered as a JSON list ``[{"index", "score", "text"?}]`` best first
(the ``top_n`` best when given): ``score`` is ``relevance_score`` (a probability), or
with ``raw_scores`` the model's raw score (the logit; yes minus no for generative
models; a class model's expected gain); ``return_text`` echoes each text. The server
always cuts pairs to the model's ``max_length`` (TEI's ``--auto-truncate``): ``truncate``
absent or true cuts, ``false`` refuses longer pairs (413);
``truncation_direction: left`` cuts a document's beginning instead of its end.

Every answer carries the served name in an ``X-Model-Id`` header (TEI's), and
``X-Top-N-Clamped: n`` when ``top_n`` asked for more results than the n documents.
"""

from __future__ import annotations

import json
from typing import Any

from rankwright.serving.errors import ApiError
from rankwright.serving.schema import DocumentIn, RerankRequest
from rankwright.serving.scoring import Scored
from rankwright.serving.validation import name_each


def document_texts(body: RerankRequest) -> list[str]:
    """The text each document is ranked on (see the module docstring); 422 naming each
    object document that has none."""
    if body.texts is not None:
        return list(body.texts)
    texts, problems = [], []
    for i, doc in enumerate(body.documents or []):
        if isinstance(doc, str):
            texts.append(doc)
        elif body.rank_fields is None:
            if doc.text is None:
                problems.append(f"documents[{i}].text: Field required (or name the fields to rank in rank_fields)")
            texts.append(doc.text or "")
        else:
            text, problem = ranked_text(doc, body.rank_fields, f"documents[{i}]")
            texts.append(text)
            if problem:
                problems.append(problem)
    if problems:
        raise ApiError(
            422, "; ".join(problems[:20]) + (f"; and {len(problems) - 20} more" if len(problems) > 20 else "")
        )
    return texts


def ranked_text(doc: DocumentIn, rank_fields: list[str], where: str) -> tuple[str, str | None]:
    """The text ``doc`` is ranked on with ``rank_fields``, and what is wrong, if anything."""
    fields = doc.fields()
    present = [(name, fields[name]) for name in rank_fields if fields.get(name) is not None]
    nested = [f"{where}.{name}" for name, value in present if isinstance(value, (dict, list))]
    if nested:
        return "", name_each(nested, "a field in rank_fields must be a string, a number or a boolean")
    if not present:
        return "", f"{where}: has none of rank_fields {rank_fields}"
    values = [value if isinstance(value, str) else json.dumps(value) for _, value in present]
    if len(rank_fields) == 1:
        return values[0], None
    return "\n".join(f"{name}: {value}" for (name, _), value in zip(present, values, strict=True)), None


def tei_results(body: RerankRequest, scored: Scored) -> list[dict[str, Any]]:
    """TEI's answer: ``[{"index", "score", "text"?}]`` best first, cut at ``top_n``."""
    scores = scored.raw if body.raw_scores and scored.raw is not None else scored.relevance
    texts = body.texts or []
    results = []
    for i in scored.order[: body.top_n or len(scored.order)]:
        result: dict[str, Any] = {"index": i, "score": float(scores[i])}
        if body.return_text:
            result["text"] = texts[i]
        results.append(result)
    return results


def answer_headers(name: str, body: RerankRequest, documents: int) -> dict[str, str]:
    """``X-Model-Id`` and, when ``top_n`` exceeds the documents, ``X-Top-N-Clamped``."""
    headers = {"X-Model-Id": name.encode("ascii", "backslashreplace").decode()}
    if body.top_n is not None and body.top_n > documents:
        headers["X-Top-N-Clamped"] = str(documents)
    return headers
