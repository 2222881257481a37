"""Native Mongo errors -> OrmError (the reference's mapping plus connection failures).

11000 (or "duplicate key error") -> UNIQUE_CONSTRAINT_VIOLATION with ``meta.target`` (logical
fields, from ``keyPattern``) and ``meta.constraint`` (the index name); 26 / "ns not found" ->
MISSING_TABLE; 112, WriteConflict, TransientTransactionError / UnknownTransactionCommitResult
labels -> TRANSACTION_CONFLICT (retryable); AutoReconnect / ServerSelectionTimeoutError /
ConnectionFailure -> CONNECTION_ERROR.
"""

from __future__ import annotations

import re
from typing import Any

from farmorm.core.errors import (
    CONNECTION_ERROR,
    INVALID_VALUE,
    LOCK_TIMEOUT,
    MISSING_TABLE,
    NUMERIC_OUT_OF_RANGE,
    QUERY_TIMEOUT,
    TRANSACTION_CONFLICT,
    UNIQUE_CONSTRAINT_VIOLATION,
    VALUE_TOO_LONG,
    OrmError,
    native_error,
)
from farmorm.schema.manifest import Schema

_INDEX = re.compile(r"index: (\S+) dup key")
_CONFLICT_LABELS = ("TransientTransactionError", "UnknownTransactionCommitResult")


def _unwrap(exc: Any) -> tuple[int | None, str | None, dict[str, Any], str]:
    """(code, codeName, details, message), looking inside a BulkWriteError's first write error."""
    details = getattr(exc, "details", None) or {}
    code = getattr(exc, "code", None)
    if code == 65 or (isinstance(details, dict) and details.get("writeErrors")):
        errs = details.get("writeErrors") or []
        if errs:
            first = errs[0]
            return first.get("code"), first.get("codeName"), first, str(first.get("errmsg") or exc)
    code_name = details.get("codeName") if isinstance(details, dict) else None
    return code, code_name, details if isinstance(details, dict) else {}, str(exc)


def map_mongo_error(exc: BaseException, schema: Schema, kind: str, collection: str | None = None) -> OrmError | None:
    if isinstance(exc, OrmError):
        return exc
    try:
        from pymongo import errors as pe
    except ImportError:  # pragma: no cover - the driver needs pymongo's bson anyway
        return None
    if isinstance(exc, pe.DocumentTooLarge):  # over the 16 MiB BSON limit, refused by the driver
        return native_error(VALUE_TOO_LONG, exc, backend_kind=kind, dialect=None)
    from bson.errors import InvalidDocument

    if isinstance(exc, InvalidDocument):  # a value BSON cannot encode
        return native_error(INVALID_VALUE, exc, backend_kind=kind, dialect=None)
    if isinstance(exc, OverflowError) and "8-byte ints" in str(exc):  # a JSON int beyond int64
        return native_error(NUMERIC_OUT_OF_RANGE, exc, backend_kind=kind, dialect=None)
    if isinstance(exc, pe.ConnectionFailure) and not isinstance(exc, pe.OperationFailure):
        return native_error(CONNECTION_ERROR, exc, backend_kind=kind, dialect=None)
    if isinstance(exc, pe.InvalidOperation) and "after close" in str(exc).lower():
        return native_error(CONNECTION_ERROR, exc, backend_kind=kind, dialect=None)
    if not isinstance(exc, pe.PyMongoError):
        return None
    code, code_name, details, message = _unwrap(exc)
    has_label = getattr(exc, "has_error_label", None)
    labels = [lbl for lbl in _CONFLICT_LABELS if has_label is not None and has_label(lbl)]
    meta: dict[str, Any] = {"original_code": code, "original_message": message}
    if code == 11000 or "duplicate key error" in message.lower():
        meta.update(_target(details, message, schema, collection))
        return native_error(UNIQUE_CONSTRAINT_VIOLATION, exc, backend_kind=kind, dialect=None, meta=meta)
    if code == 26 or re.search(r"namespace not found|ns not found", message, re.I):
        return native_error(MISSING_TABLE, exc, backend_kind=kind, dialect=None, meta=meta)
    if code == 50 or code_name == "MaxTimeMSExpired":
        return native_error(QUERY_TIMEOUT, exc, backend_kind=kind, dialect=None, meta=meta)
    if code == 24 or code_name == "LockTimeout":
        return native_error(LOCK_TIMEOUT, exc, backend_kind=kind, dialect=None, meta=meta)
    if code == 112 or code_name == "WriteConflict" or labels:
        return native_error(TRANSACTION_CONFLICT, exc, backend_kind=kind, dialect=None, meta=meta)
    return None


def _target(details: dict[str, Any], message: str, schema: Schema, collection: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    m = _INDEX.search(message)
    index = details.get("index") or (m.group(1) if m else None)
    if index:
        out["constraint"] = index
    pattern = details.get("keyPattern")
    if not pattern:
        return out
    columns = list(pattern)
    model = next((md for md in schema.models.values() if md.table == collection), None)
    if model is None and index:
        model = next((md for md in schema.models.values() if index.startswith(md.table + "_")), None)
    if model is None:
        out["target"] = columns
        return out
    by_column = {f.column: f.name for f in model.fields.values()}
    out["target"] = [by_column.get(c, c) for c in columns]
    out["model"] = model.name
    return out
