"""Request and response bodies of ``POST /rerank`` (pydantic), in the Cohere / Jina
rerank shape or in Hugging Face TEI's, and the error messages made from pydantic's
validation errors.

Request, Cohere / Jina shape::

    {"query": "cordless drill", "documents": ["drill kit", {"id": "p7", "text": "drill bits"}],
     "top_n": 1, "return_documents": true, "first_stage_scores": [12.1, 9.3], "fused": null,
     "max_tokens_per_doc": 256, "rank_fields": ["title", "text"]}

Response::

    {"id": "<request id>", "model": "hd-reranker",
     "results": [{"index": 0, "relevance_score": 0.91, "document": {"text": "drill kit"}}],
     "usage": {"documents": 2, "tokens": 19}}

Request, TEI shape (``texts`` instead of ``documents``)::

    {"query": "cordless drill", "texts": ["drill kit", "drill bits"], "raw_scores": false,
     "return_text": true, "truncate": true, "truncation_direction": "right"}

Response: ``[{"index": 0, "score": 0.91, "text": "drill kit"}, ...]`` best first (see
:mod:`rankwright.serving.shapes` for what each field does).

``model`` (a field Cohere and Jina clients send) is accepted and ignored: the server
serves one model. Any other unknown field is an error (a misspelt ``top_k`` would
otherwise be silently ignored), and so is a field of one shape in a request of the
other (``raw_scores`` with ``documents``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

DOCUMENT_SHAPE = 'must be a string or an object {"text": "...", "id": "..."}'
#: the names pydantic gives the arms of ``str | DocumentIn`` in an error's location
_UNION_ARMS = {"str", "DocumentIn"}


class DocumentIn(BaseModel):
    """A document given as an object: its text, an optional id, and any other fields
    (ranked when ``rank_fields`` names them, echoed back with ``return_documents``)."""

    model_config = ConfigDict(extra="allow", strict=True)

    text: str | None = None
    id: str | None = None

    def fields(self) -> dict[str, Any]:
        """Every field given (``text`` and ``id`` included), as sent."""
        return self.model_dump(exclude_none=True)


class RerankRequest(BaseModel):
    """The body of ``POST /rerank``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    query: str = Field(description="the search query")
    documents: list[str | DocumentIn] | None = Field(
        default=None, description="strings, or objects {id, text, ...} (Cohere / Jina shape)"
    )
    texts: list[str] | None = Field(default=None, description="strings (TEI shape, instead of documents)")
    top_n: int | None = Field(default=None, ge=1, description="return only the best n (default: all)")
    return_documents: bool = Field(default=False, description="echo each document in its result")
    rank_fields: list[str] | None = Field(
        default=None, min_length=1, description="the fields of object documents to rank on, in order (Cohere v1)"
    )
    max_tokens_per_doc: int | None = Field(
        default=None, ge=1, description="cut each document to its first n tokens before pairing (Cohere v2)"
    )
    raw_scores: bool = Field(default=False, description="TEI: the raw model score instead of the probability")
    return_text: bool = Field(default=False, description="TEI: echo each text in its result")
    truncate: bool | None = Field(
        default=None, description="TEI: false refuses pairs over max_length (413); true or null cuts them"
    )
    truncation_direction: str = Field(
        default="right", description="TEI: right cuts a document's end, left its beginning"
    )
    first_stage_scores: list[FiniteFloat] | None = Field(
        default=None, description="one first-stage (e.g. BM25) score per document, for fused models"
    )
    fused: bool | None = Field(
        default=None, description="rank by the model's fusion (default: when it has one); false: its own score"
    )
    model: str | None = Field(default=None, description="accepted for client compatibility; ignored")

    @field_validator("query")
    @classmethod
    def _query_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query must not be empty or only whitespace")
        return value

    @field_validator("documents", "texts")
    @classmethod
    def _documents_not_empty(cls, value: list | None, info) -> list | None:
        if value is not None and not value:
            raise ValueError(f"{info.field_name} must not be empty: give at least one")
        return value

    @field_validator("truncation_direction")
    @classmethod
    def _direction(cls, value: str) -> str:
        if value.lower() not in ("left", "right"):
            raise ValueError(f"truncation_direction must be 'left' or 'right', got {value!r}")
        return value.lower()

    @model_validator(mode="after")
    def _one_shape(self) -> RerankRequest:
        if self.documents is None and self.texts is None:
            raise ValueError("documents: Field required (or texts, in TEI's shape)")
        if self.documents is not None and self.texts is not None:
            raise ValueError("give documents (Cohere / Jina shape) or texts (TEI shape), not both")
        other = TEI_FIELDS if self.documents is not None else COHERE_FIELDS
        for name in sorted(other & self.model_fields_set):
            shape = "TEI's (with texts)" if name in TEI_FIELDS else "Cohere's (with documents)"
            raise ValueError(f"{name} belongs to {shape} shape of request")
        return self

    @property
    def tei(self) -> bool:
        """Whether the request is in TEI's shape (answered in TEI's shape)."""
        return self.texts is not None

    @property
    def items(self) -> list[str | DocumentIn]:
        """The documents or the texts."""
        return self.documents if self.documents is not None else list(self.texts or [])


#: fields only TEI's request shape has, and fields only Cohere's has
TEI_FIELDS = frozenset({"raw_scores", "return_text", "truncate", "truncation_direction"})
COHERE_FIELDS = frozenset({"return_documents", "rank_fields"})


class DocumentOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    text: str | None = None
    id: str | None = None


class RerankResult(BaseModel):
    index: int = Field(description="position of the document in the request")
    relevance_score: float = Field(description="P(relevant) in [0, 1]: calibrated when the model has a calibration")
    fused_score: float | None = Field(default=None, description="fused models: the score the results are sorted by")
    document: DocumentOut | None = None


class Usage(BaseModel):
    documents: int
    tokens: int | None = None


class RerankResponse(BaseModel):
    id: str = Field(description="the request id (also the X-Request-ID header)")
    model: str
    results: list[RerankResult]
    usage: Usage


class TeiResult(BaseModel):
    """One result of a TEI-shaped request (the answer is a list of them, best first)."""

    index: int = Field(description="position of the text in the request")
    score: float = Field(description="relevance_score, or with raw_scores the model's raw score")
    text: str | None = None


class ErrorResponse(BaseModel):
    """Every error answer: a machine-readable ``error`` kind and a sentence for people."""

    error: str
    message: str
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None


def _location(loc: Sequence[Any]) -> str:
    """``("body", "documents", 2, "DocumentIn", "text")`` -> ``documents[2].text``."""
    out = ""
    for part in loc:
        if part == "body" and not out:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_ARMS or (isinstance(part, str) and part.startswith(("list[", "function-"))):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def describe_validation_errors(errors: Sequence[dict[str, Any]]) -> str:
    """One readable sentence from pydantic/FastAPI validation errors (duplicates dropped)."""
    parts: list[str] = []
    # A document object with a bad field: report the field, not "neither a string nor an object".
    in_objects = {
        tuple(e["loc"][: e["loc"].index("DocumentIn")]) for e in errors if "DocumentIn" in e.get("loc", ())[:-1]
    }
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if loc and loc[-1] == "str" and loc[:-1] in in_objects:
            continue
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "")
            text = f"the body is not valid JSON{': ' + str(reason) if reason else ''}"
        elif err.get("type") == "missing" and tuple(err.get("loc", ())) == ("body",):
            text = "the body is empty: send a JSON object with query and documents"
        else:
            where = _location(loc)
            message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
            if loc and loc[-1] in _UNION_ARMS:  # the document itself is neither arm
                message = DOCUMENT_SHAPE
            elif err.get("type") == "model_attributes_type" and not where:
                message = "the body must be a JSON object with query and documents"
            elif err.get("type") == "extra_forbidden":
                message = "unknown field"
            text = f"{where}: {message}" if where else message
        if text not in parts:
            parts.append(text)
    return "; ".join(parts)


def jsonable_errors(errors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors as plain JSON (pydantic may put exceptions in ``ctx``)."""
    return [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in errors
    ]
