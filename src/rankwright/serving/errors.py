"""The error answers of the app: :class:`ApiError` (an HTTP status, a machine-readable
kind and a sentence for people) and the kinds of each status."""

from __future__ import annotations

ERROR_KINDS = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_request",
    499: "client_closed_request",
    500: "internal_error",
    503: "not_ready",
    504: "timeout",
}


class ApiError(Exception):
    """An answer other than 200: HTTP status and a sentence for the client (``headers``:
    extra response headers, e.g. ``Retry-After``)."""

    def __init__(self, status: int, message: str, kind: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind or ERROR_KINDS.get(status, "error")
        self.headers = headers


class InputError(ValueError):
    """A request's own input could not be scored (e.g. text its tokenizer refuses): a
    422 for that request alone."""


class Abandoned(RuntimeError):
    """A request nobody waits for any more (its client left, its deadline passed): not scored."""
