"""One error shape for HTTP APIs on farmorm: RFC 9457 problem details, framework-free.

Every error answer has the same keys, whoever raised it (farmorm, the framework's request validation,
a 404 route)::

    {"type": "about:blank", "title": "Conflict", "status": 409,
     "code": "UNIQUE_CONSTRAINT_VIOLATION", "detail": "The request conflicts with existing data."}

plus ``errors`` (a list of ``{"loc": [...], "message": ...}``) for request validation and
``current_version`` for ``VERSION_CONFLICT``. Conflicts and server-side errors carry a fixed
public ``detail``: native messages (table and constraint names) stay in the server's log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Iterable, Mapping

from farmorm.core.errors import OrmError

log = logging.getLogger("farmorm.integrations")

MEDIA_TYPE = "application/problem+json"

#: OrmError code -> HTTP status; any other code is a 500 (MISSING_TABLE and the like: a deployment bug)
HTTP_STATUS: Mapping[str, int] = {
    "UNIQUE_CONSTRAINT_VIOLATION": 409,
    "FOREIGN_KEY_VIOLATION": 409,
    "VERSION_CONFLICT": 409,
    "IDEMPOTENCY_CONFLICT": 409,
    "NOT_FOUND": 404,
    "VALIDATION_ERROR": 422,
    "NOT_NULL_VIOLATION": 422,
    "CHECK_VIOLATION": 422,
    "VALUE_TOO_LONG": 422,
    "NUMERIC_OUT_OF_RANGE": 422,
    "INVALID_VALUE": 422,
    "TRANSACTION_CONFLICT": 503,
    "DEADLOCK": 503,
    "LOCK_TIMEOUT": 503,
    "SCHEMA_CHANGED": 503,
    "CONNECTION_ERROR": 503,
    "READ_ONLY": 503,
    "QUERY_TIMEOUT": 504,
}

#: what a client may read for these statuses (the OrmError's own message is shown for 404 and 422)
PUBLIC_DETAIL: Mapping[int, str] = {
    409: "The request conflicts with existing data.",
    500: "Internal error.",
    503: "The database is busy. Try again.",
    504: "The database took too long. Try again.",
}

#: HTTP status -> ``code`` for errors that are not an OrmError (a framework's 404, 405, ...)
STATUS_CODES: Mapping[int, str] = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 422: "VALIDATION_ERROR",
    429: "TOO_MANY_REQUESTS", 500: "INTERNAL_ERROR", 503: "SERVICE_UNAVAILABLE",
}


@dataclass(frozen=True)
class Problem:
    """A problem response: ``status``, the JSON ``body`` and extra ``headers`` (``Retry-After``)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = MEDIA_TYPE


def _body(status: int, code: str, detail: str) -> dict[str, Any]:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return {"type": "about:blank", "title": title, "status": status, "code": code, "detail": detail}


def problem_for_error(exc: OrmError) -> Problem:
    """The problem response for an ``OrmError``: status by its code, public detail, ``Retry-After``
    on retryable errors. Server-side errors (5xx) are logged with their native message."""
    status = HTTP_STATUS.get(exc.code, 500)
    if status >= 500:
        log.error("database error %s", exc.code, exc_info=exc)
    detail = exc.message if status in (404, 422) else PUBLIC_DETAIL.get(status, PUBLIC_DETAIL[500])
    body = _body(status, exc.code, detail)
    if exc.code == "VERSION_CONFLICT":
        body["current_version"] = exc.meta.get("actual_version")
    headers = {"Retry-After": "1"} if exc.retryable or status == 503 else {}
    return Problem(status, body, headers)


def problem_for_validation(errors: Iterable[Mapping[str, Any]], detail: str = "The request is not valid.") -> Problem:
    """A 422 for a request the framework could not validate: ``errors`` as ``{"loc", "message"}`` items."""
    items = [{"loc": [str(p) for p in e.get("loc", ())], "message": str(e.get("message", e.get("msg", "")))}
             for e in errors]
    body = _body(422, "VALIDATION_ERROR", detail)
    body["errors"] = items
    return Problem(422, body)


def problem_for_status(status: int, detail: str | None = None, headers: Mapping[str, str] | None = None) -> Problem:
    """A framework's own HTTP error (unknown route, wrong method, ``raise HTTPException``) in the same shape."""
    code = STATUS_CODES.get(status, "HTTP_ERROR")
    try:
        default = HTTPStatus(status).description or HTTPStatus(status).phrase
    except ValueError:
        default = "Error"
    return Problem(status, _body(status, code, detail or default), dict(headers or {}))


__all__ = ["Problem", "problem_for_error", "problem_for_validation", "problem_for_status", "HTTP_STATUS",
           "PUBLIC_DETAIL", "STATUS_CODES", "MEDIA_TYPE"]
