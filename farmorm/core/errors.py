"""OrmError, its codes and one exception subclass per code.

Every native database error is converted in one place per driver (``map_error``) into an
:class:`OrmError` whose ``code`` is one of :data:`CODES`; bad query input is refused with
``VALIDATION_ERROR`` before any I/O.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any, Mapping

UNIQUE_CONSTRAINT_VIOLATION = "UNIQUE_CONSTRAINT_VIOLATION"
FOREIGN_KEY_VIOLATION = "FOREIGN_KEY_VIOLATION"
NOT_NULL_VIOLATION = "NOT_NULL_VIOLATION"
CHECK_VIOLATION = "CHECK_VIOLATION"
MISSING_TABLE = "MISSING_TABLE"
MISSING_SCHEMA = "MISSING_SCHEMA"
TRANSACTION_CONFLICT = "TRANSACTION_CONFLICT"
DEADLOCK = "DEADLOCK"
CONNECTION_ERROR = "CONNECTION_ERROR"
VALIDATION_ERROR = "VALIDATION_ERROR"
NOT_FOUND = "NOT_FOUND"
VERSION_CONFLICT = "VERSION_CONFLICT"
UNSUPPORTED = "UNSUPPORTED"
IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
VALUE_TOO_LONG = "VALUE_TOO_LONG"
NUMERIC_OUT_OF_RANGE = "NUMERIC_OUT_OF_RANGE"
INVALID_VALUE = "INVALID_VALUE"
LOCK_TIMEOUT = "LOCK_TIMEOUT"
QUERY_TIMEOUT = "QUERY_TIMEOUT"
TRANSACTION_ABORTED = "TRANSACTION_ABORTED"
SCHEMA_CHANGED = "SCHEMA_CHANGED"
MISSING_COLUMN = "MISSING_COLUMN"
STORAGE_FULL = "STORAGE_FULL"
READ_ONLY = "READ_ONLY"
COMMIT_UNKNOWN = "COMMIT_UNKNOWN"
POOLER_MISCONFIGURED = "POOLER_MISCONFIGURED"
COMMIT_HOOK_FAILED = "COMMIT_HOOK_FAILED"

#: Human description of each code, used as the message prefix of mapped native errors
#: (``"<Description> in <kind> (<dialect>) runtime: <native message>"``, as the reference does).
DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        UNIQUE_CONSTRAINT_VIOLATION: "Unique constraint violation",
        FOREIGN_KEY_VIOLATION: "Foreign key violation",
        NOT_NULL_VIOLATION: "Not-null constraint violation",
        CHECK_VIOLATION: "Check constraint violation",
        MISSING_TABLE: "Missing table or collection",
        MISSING_SCHEMA: "Missing schema or database namespace",
        TRANSACTION_CONFLICT: "Transaction conflict",
        DEADLOCK: "Deadlock detected",
        CONNECTION_ERROR: "Connection error",
        VALIDATION_ERROR: "Invalid query input",
        NOT_FOUND: "Record not found",
        VERSION_CONFLICT: "Version conflict",
        UNSUPPORTED: "Unsupported operation",
        IDEMPOTENCY_CONFLICT: "Idempotency key conflict",
        VALUE_TOO_LONG: "Value too long for its column",
        NUMERIC_OUT_OF_RANGE: "Numeric value out of range for its column",
        INVALID_VALUE: "Invalid value for its column",
        LOCK_TIMEOUT: "Lock wait timeout",
        QUERY_TIMEOUT: "Query timeout or interruption",
        TRANSACTION_ABORTED: "Transaction aborted by an earlier error",
        SCHEMA_CHANGED: "Schema changed under a cached statement",
        MISSING_COLUMN: "Missing column",
        STORAGE_FULL: "Database storage full",
        READ_ONLY: "Database is read-only",
        COMMIT_UNKNOWN: "Commit outcome unknown",
        POOLER_MISCONFIGURED: "Connection pooler misconfigured",
        COMMIT_HOOK_FAILED: "After-commit hook failed",
    }
)

CODES = tuple(DESCRIPTIONS)
#: re-running the whole transaction may succeed: a conflict, a deadlock, a lock wait that timed
#: out, or a statement cached before a schema change (see docs/transactions.md#retries)
RETRYABLE_CODES = frozenset({TRANSACTION_CONFLICT, DEADLOCK, LOCK_TIMEOUT, SCHEMA_CHANGED})


class OrmError(Exception):
    """A normalized farmorm error: ``code`` says what happened whatever the backend."""

    code: str = "ORM_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        backend_kind: str | None = None,
        dialect: str | None = None,
        retryable: bool | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.backend_kind = backend_kind
        self.dialect = dialect
        self.retryable = self.code in RETRYABLE_CODES if retryable is None else retryable
        base = {"backend_kind": backend_kind, "dialect": dialect, "retryable": self.retryable}
        base.update(meta or {})
        self.meta: Mapping[str, Any] = MappingProxyType(base)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class UniqueConstraintViolation(OrmError):
    """A write hit a unique key (primary key, unique field or compound unique)."""

    code = UNIQUE_CONSTRAINT_VIOLATION


class ForeignKeyViolation(OrmError):
    """A write referenced a missing row, or a delete left rows pointing at nothing."""

    code = FOREIGN_KEY_VIOLATION


class NotNullViolation(OrmError):
    """The database refused a NULL for a NOT NULL column."""

    code = NOT_NULL_VIOLATION


class CheckViolation(OrmError):
    """A CHECK constraint (e.g. an enumeration's allowed values) refused the row."""

    code = CHECK_VIOLATION


class MissingTable(OrmError):
    """The table or collection does not exist (schema not pushed?)."""

    code = MISSING_TABLE


class MissingSchema(OrmError):
    """The schema namespace or database does not exist."""

    code = MISSING_SCHEMA


class TransactionConflict(OrmError):
    """A serialization failure, busy database or lock timeout; retrying may succeed."""

    code = TRANSACTION_CONFLICT


class Deadlock(OrmError):
    """The database broke a deadlock by aborting this transaction; retrying may succeed."""

    code = DEADLOCK


class OrmConnectionError(OrmError):
    """The connection failed, was lost, or none could be acquired in time."""

    code = CONNECTION_ERROR


class QueryValidationError(OrmError, ValueError):
    """Bad query input, refused before any I/O."""

    code = VALIDATION_ERROR


class RecordNotFound(OrmError):
    """The record an operation needed does not exist."""

    code = NOT_FOUND


def not_found(operation: str, model: str, where: Any, backend_kind: str | None = None,
              dialect: str | None = None) -> RecordNotFound:
    """NOT_FOUND for an ``*_or_raise`` method: names the model and the where clause (shortened)."""
    shown = repr(where)
    if len(shown) > 200:
        shown = shown[:197] + "..."
    return RecordNotFound(
        f'{operation} on model "{model}" found no record matching where {shown}.',
        backend_kind=backend_kind, dialect=dialect, meta={"model": model, "where": where},
    )


class VersionConflict(OrmError):
    """An optimistic-concurrency update found another version."""

    code = VERSION_CONFLICT


class UnsupportedError(OrmError):
    """The backend cannot do what was asked (see its capabilities)."""

    code = UNSUPPORTED


class IdempotencyConflict(OrmError):
    """An idempotency key was reused for another request (or its first request is still running)."""

    code = IDEMPOTENCY_CONFLICT


class ValueTooLong(OrmError):
    """The database refused a value longer than its column holds (never truncated)."""

    code = VALUE_TOO_LONG


class NumericOutOfRange(OrmError):
    """The database refused a number outside its column's range (never clamped)."""

    code = NUMERIC_OUT_OF_RANGE


class InvalidValue(OrmError):
    """The database (or its client library) refused a value it cannot store in that column."""

    code = INVALID_VALUE


class LockTimeout(TransactionConflict):
    """A lock wait timed out (another transaction held the row); retrying may succeed.

    A subclass of :class:`TransactionConflict`, so handlers written before the code existed still
    catch it. Inside a transaction the transaction is aborted (see ``TRANSACTION_ABORTED``)."""

    code = LOCK_TIMEOUT


class QueryTimeout(OrmError):
    """A statement ran past its time limit or was interrupted (statement_timeout, max_statement_time...)."""

    code = QUERY_TIMEOUT


class TransactionAborted(OrmError):
    """An earlier statement of this transaction failed, so it can only roll back."""

    code = TRANSACTION_ABORTED


class SchemaChanged(OrmError):
    """A cached statement no longer matches the table (live DDL); re-running the transaction succeeds."""

    code = SCHEMA_CHANGED


class MissingColumn(OrmError):
    """A column the schema declares does not exist in the table (the schema was not migrated)."""

    code = MISSING_COLUMN


class StorageFull(OrmError):
    """The database ran out of space (disk full, page limit)."""

    code = STORAGE_FULL


class ReadOnlyDatabase(OrmError):
    """The database (or its file) refuses writes."""

    code = READ_ONLY


class CommitUnknown(OrmError):
    """The connection was lost while COMMIT was in flight: the transaction may or may not have
    committed. Never retryable, and ``transaction(retries=)`` never re-runs the body after it:
    check whether the writes landed (an idempotency key, a marker row) before doing them again.
    ``meta["commit_state"]`` is ``"unknown"``; ``__cause__`` is the native error."""

    code = COMMIT_UNKNOWN


class PoolerMisconfigured(OrmError):
    """A transaction-mode pooler (PgBouncer) sent a statement to a server connection that did not
    prepare it: the client caches named prepared statements. Connect with ``pgbouncer=true``
    (``?pgbouncer=true`` on the URL or ``create_orm(..., pgbouncer=True)``); see docs/scaling-out.md."""

    code = POOLER_MISCONFIGURED


class CommitHookFailed(OrmError):
    """The transaction **committed**, then one or more ``on_commit`` hooks raised. The data is
    saved: never retry the transaction for it (``transaction(retries=)`` does not). Every hook ran;
    ``exceptions`` holds what the failing ones raised (``__cause__`` is an ``ExceptionGroup`` of
    them), ``result`` what ``fn`` returned in the function form, ``meta["committed"]`` is True."""

    code = COMMIT_HOOK_FAILED
    exceptions: tuple[Exception, ...] = ()
    result: Any = None


_BY_CODE: dict[str, type[OrmError]] = {
    cls.code: cls
    for cls in (
        UniqueConstraintViolation,
        ForeignKeyViolation,
        NotNullViolation,
        CheckViolation,
        MissingTable,
        MissingSchema,
        TransactionConflict,
        Deadlock,
        OrmConnectionError,
        QueryValidationError,
        RecordNotFound,
        VersionConflict,
        UnsupportedError,
        IdempotencyConflict,
        ValueTooLong,
        NumericOutOfRange,
        InvalidValue,
        LockTimeout,
        QueryTimeout,
        TransactionAborted,
        SchemaChanged,
        MissingColumn,
        StorageFull,
        ReadOnlyDatabase,
        CommitUnknown,
        PoolerMisconfigured,
        CommitHookFailed,
    )
}


def error_class(code: str) -> type[OrmError]:
    """Return the exception subclass for ``code``."""
    return _BY_CODE[code]


def make_error(
    code: str,
    message: str,
    *,
    backend_kind: str | None = None,
    dialect: str | None = None,
    meta: Mapping[str, Any] | None = None,
    retryable: bool | None = None,
) -> OrmError:
    """Build the subclass instance for ``code`` (so both ``except`` and ``.code`` work)."""
    return _BY_CODE[code](message, backend_kind=backend_kind, dialect=dialect, meta=meta, retryable=retryable)


#: Parts of native error messages that quote the values being written or looked up (a password,
#: a card number...). farmorm's messages and ``meta`` replace them with ``?``; the native exception
#: (``__cause__``) keeps its own text for operators who choose to log it.
_VALUE_BEARING = (
    # PostgreSQL DETAIL lines (asyncpg and psycopg both print them)
    (re.compile(r"(Key \((?:[^()]|\([^()]*\))*\)=)\((?:.|\n)*?\)( already exists| is not present| is still referenced|\.|$)",
                re.M), r"\1(?)\2"),
    (re.compile(r"(Failing row contains )\((?:.|\n)*\)\.?", re.M), r"\1(?)."),
    (re.compile(r"(Token )\"(?:[^\"\\]|\\.)*\"( is invalid)"), r'\1"?"\2'),
    (re.compile(r"(invalid input syntax for type \w+(?: \w+)*: )\"(?:.|\n)*?\"(\s*$|\n)", re.M), r'\1"?"\2'),
    # asyncpg's client-side encoding errors: "invalid input for query argument $2: 'x' (...)"
    (re.compile(r"(invalid input for query argument \$\d+: )(?:.|\n)*?( \((?:[^()]|\([^()]*\))*\)\s*$)"), r"\1?\2"),
    # MySQL / MariaDB
    (re.compile(r"(Duplicate entry )'(?:[^'\\]|\\.|'')*'( for key)"), r"\1'?'\2"),
    (re.compile(r"((?:Incorrect|Truncated incorrect) [\w ]+? value: )'(?:[^'\\]|\\.|'')*'"), r"\1'?'"),
    # MongoDB: OperationFailure / BulkWriteError append the whole server reply (with the documents)
    (re.compile(r",? full error: .*\Z", re.S), ""),
    # MongoDB duplicate keys: "dup key: { email: \"ada@example.com\" }"
    (re.compile(r"(dup key: )\{.*?\}(?=[\s,'\"]*(?:$|,|\}))", re.S), r"\1{ ? }"),
)


def redact_values(text: str) -> str:
    """``text`` with the values native error messages quote replaced by ``?`` (see ``_VALUE_BEARING``)."""
    for pattern, replacement in _VALUE_BEARING:
        text = pattern.sub(replacement, text)
    return text


def native_error(
    code: str,
    exc: BaseException,
    *,
    backend_kind: str,
    dialect: str | None,
    meta: Mapping[str, Any] | None = None,
) -> OrmError:
    """Wrap a native driver error in the reference's message shape; the caller raises it ``from exc``."""
    where = f"{backend_kind} ({dialect})" if dialect else backend_kind
    original = redact_values(str(exc).strip()) or type(exc).__name__
    full_meta = {"original_message": original}
    full_meta.update(meta or {})
    if isinstance(full_meta.get("original_message"), str):
        full_meta["original_message"] = redact_values(full_meta["original_message"])
    return make_error(
        code,
        f"{DESCRIPTIONS[code]} in {where} runtime: {original}",
        backend_kind=backend_kind,
        dialect=dialect,
        meta=full_meta,
    )


def validation_error(message: str, **meta: Any) -> QueryValidationError:
    """A VALIDATION_ERROR for bad input; ``meta`` names the model/field concerned."""
    return QueryValidationError(message, meta=meta)


def is_orm_error(value: object) -> bool:
    """True when ``value`` is an :class:`OrmError` (any code)."""
    return isinstance(value, OrmError)


class SchemaError(ValueError):
    """The schema definition is inconsistent; raised by ``define_schema`` and friends."""


__all__ = [
    "UNIQUE_CONSTRAINT_VIOLATION",
    "FOREIGN_KEY_VIOLATION",
    "NOT_NULL_VIOLATION",
    "CHECK_VIOLATION",
    "MISSING_TABLE",
    "MISSING_SCHEMA",
    "TRANSACTION_CONFLICT",
    "DEADLOCK",
    "CONNECTION_ERROR",
    "VALIDATION_ERROR",
    "NOT_FOUND",
    "VERSION_CONFLICT",
    "UNSUPPORTED",
    "IDEMPOTENCY_CONFLICT",
    "VALUE_TOO_LONG",
    "NUMERIC_OUT_OF_RANGE",
    "INVALID_VALUE",
    "LOCK_TIMEOUT",
    "QUERY_TIMEOUT",
    "TRANSACTION_ABORTED",
    "SCHEMA_CHANGED",
    "MISSING_COLUMN",
    "STORAGE_FULL",
    "READ_ONLY",
    "COMMIT_UNKNOWN",
    "POOLER_MISCONFIGURED",
    "COMMIT_HOOK_FAILED",
    "DESCRIPTIONS",
    "CODES",
    "RETRYABLE_CODES",
    "OrmError",
    "UniqueConstraintViolation",
    "ForeignKeyViolation",
    "NotNullViolation",
    "CheckViolation",
    "MissingTable",
    "MissingSchema",
    "TransactionConflict",
    "Deadlock",
    "OrmConnectionError",
    "QueryValidationError",
    "RecordNotFound",
    "VersionConflict",
    "UnsupportedError",
    "IdempotencyConflict",
    "ValueTooLong",
    "NumericOutOfRange",
    "InvalidValue",
    "LockTimeout",
    "QueryTimeout",
    "TransactionAborted",
    "SchemaChanged",
    "MissingColumn",
    "StorageFull",
    "ReadOnlyDatabase",
    "CommitUnknown",
    "PoolerMisconfigured",
    "CommitHookFailed",
    "error_class",
    "make_error",
    "redact_values",
    "native_error",
    "validation_error",
    "is_orm_error",
    "SchemaError",
]
