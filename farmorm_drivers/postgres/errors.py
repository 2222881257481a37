"""asyncpg / psycopg 3 errors -> OrmError, by SQLSTATE, with the constraint name and the logical target fields.

asyncpg puts the server's error fields on the exception (``constraint_name``, ``detail``, ...);
psycopg puts them on ``exc.diag`` (``constraint_name``, ``message_detail``, ...). ``_field`` reads
either. Neither library is imported unless the application already imported it.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from farmorm.core.errors import (
    CHECK_VIOLATION,
    CONNECTION_ERROR,
    DEADLOCK,
    FOREIGN_KEY_VIOLATION,
    INVALID_VALUE,
    LOCK_TIMEOUT,
    MISSING_COLUMN,
    MISSING_SCHEMA,
    MISSING_TABLE,
    NOT_NULL_VIOLATION,
    NUMERIC_OUT_OF_RANGE,
    QUERY_TIMEOUT,
    READ_ONLY,
    SCHEMA_CHANGED,
    STORAGE_FULL,
    TRANSACTION_ABORTED,
    TRANSACTION_CONFLICT,
    UNIQUE_CONSTRAINT_VIOLATION,
    VALUE_TOO_LONG,
    POOLER_MISCONFIGURED,
    OrmError,
    make_error,
    native_error,
)
from farmorm.schema.manifest import ModelMeta, Schema

KIND, DIALECT = "asyncpg", "postgres"

BY_SQLSTATE = {
    "23505": UNIQUE_CONSTRAINT_VIOLATION,
    "23503": FOREIGN_KEY_VIOLATION,
    "23502": NOT_NULL_VIOLATION,
    "23514": CHECK_VIOLATION,
    "42P01": MISSING_TABLE,
    "3F000": MISSING_SCHEMA,
    "3D000": MISSING_SCHEMA,
    "40001": TRANSACTION_CONFLICT,
    "40P01": DEADLOCK,
    "55P03": LOCK_TIMEOUT,  # lock_not_available (lock_timeout, NOWAIT)
    "57014": QUERY_TIMEOUT,  # query_canceled (statement_timeout, pg_cancel_backend)
    "25P02": TRANSACTION_ABORTED,  # in_failed_sql_transaction: an earlier statement failed
    "0A000": SCHEMA_CHANGED,  # only asyncpg's InvalidCachedStatementError; see _schema_changed
    "42703": MISSING_COLUMN,  # undefined_column
    "53100": STORAGE_FULL,  # disk_full
    "25006": READ_ONLY,  # read_only_sql_transaction (a standby, default_transaction_read_only)
    # the server refused or dropped the connection
    "57P01": CONNECTION_ERROR,
    "57P02": CONNECTION_ERROR,
    "57P03": CONNECTION_ERROR,
    "53300": CONNECTION_ERROR,
    # a value the column cannot hold: refused, never truncated or clamped
    "22001": VALUE_TOO_LONG,  # string_data_right_truncation (varchar(n) of a table farmorm did not create)
    "22003": NUMERIC_OUT_OF_RANGE,  # numeric_value_out_of_range (e.g. an integer version counter at 2**31 - 1)
    "22021": INVALID_VALUE,  # character_not_in_repertoire (NUL in text)
    "22P02": INVALID_VALUE,  # invalid_text_representation (text into a json / uuid / ... column)
    "22P05": INVALID_VALUE,  # untranslatable_character (\u0000 in jsonb)
    "22007": INVALID_VALUE,  # invalid_datetime_format
    "22008": INVALID_VALUE,  # datetime_field_overflow
    # a transaction-mode pooler (PgBouncer) moved the session to another server connection between
    # preparing a named statement and using it: missing there (26000) or already there (42P05)
    "26000": POOLER_MISCONFIGURED,  # invalid_sql_statement_name
    "42P05": POOLER_MISCONFIGURED,  # duplicate_prepared_statement
    # ... or the arguments reached another statement of the same name, typed differently
    "22P03": POOLER_MISCONFIGURED,  # invalid_binary_representation (farmorm always binds typed values)
}
#: the pooler's signs that carry a generic SQLSTATE: 08P01 / 54000 naming the bind message
_POOLER_MESSAGE = re.compile(r"bind message (?:supplies|has)|in bind parameter|prepared statement .* does not exist")
POOLER_HINT = (
    "The server connection changed under a named prepared statement: a transaction-mode pooler "
    "(PgBouncer, pool_mode=transaction) is in front of the server. Connect with pgbouncer=true "
    "(add ?pgbouncer=true to the URL or pass create_orm(..., pgbouncer=True)); for an app's own pool "
    "or engine see docs/scaling-out.md#pgbouncer."
)
# 42P01 raised while planning a statement on a missing namespace reads "schema ... does not exist"
_BY_MESSAGE = (
    (re.compile(r'^schema ".+" does not exist'), MISSING_SCHEMA),
    (re.compile(r'^relation ".+" does not exist'), MISSING_TABLE),
)
_KEY = re.compile(r"Key \((.+?)\)=")
_REFERENCED_FROM = re.compile(r'is still referenced from table "(.+?)"')


_DIAG = {"detail": "message_detail"}


def _field(exc: Any, name: str) -> Any:
    """An error field from asyncpg (on the exception) or psycopg (on ``exc.diag``)."""
    value = getattr(exc, name, None)
    if value is None and (diag := getattr(exc, "diag", None)) is not None:
        value = getattr(diag, _DIAG.get(name, name), None)
    return value


def _is_server_error(exc: BaseException) -> bool:
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is not None and isinstance(exc, asyncpg.PostgresError):
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.Error) and getattr(exc, "sqlstate", None) is not None


def _is_connection_failure(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return True
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is not None:
        if isinstance(exc, asyncpg.PostgresConnectionError):
            return True
        if isinstance(exc, asyncpg.exceptions._base.InternalClientError) and "another operation" in str(exc):
            # the server killed an idle pooled session: its FATAL error arrived (the protocol is
            # consuming it) before the socket closed, and the pool handed the connection out in
            # between (found by the T43 chaos run). The connection is dead: a connection error.
            return True
        if isinstance(exc, asyncpg.InterfaceError):
            msg = str(exc).lower()
            return "closed" in msg or "released" in msg or "not connected" in msg or "connection" in msg
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return getattr(exc, "sqlstate", None) is None or str(getattr(exc, "sqlstate", "")).startswith("08")
    pool = sys.modules.get("psycopg_pool")
    return pool is not None and isinstance(exc, pool.PoolTimeout)


def _model(schema: Schema, table: str | None, namespace: str | None) -> ModelMeta | None:
    if not table:
        return None
    found = [m for m in schema.models.values() if m.table == table]
    if len(found) > 1 and namespace:
        found = [m for m in found if (m.schema or "public") == namespace] or found
    return found[0] if found else None


def _fields(model: ModelMeta | None, columns: list[str]) -> list[str]:
    if model is None:
        return columns
    by_column = {f.column: f.name for f in model.fields.values()}
    return [by_column.get(c, c) for c in columns]


def _columns(detail: str) -> list[str]:
    m = _KEY.search(detail or "")
    if not m:
        return []
    return [c.strip().strip('"') for c in m.group(1).split(",")]


def _target(schema: Schema, code: str, exc: Any) -> dict[str, Any]:
    """``constraint``, ``target`` (logical fields) and ``model`` from the error's fields and detail."""
    meta: dict[str, Any] = {}
    constraint = _field(exc, "constraint_name")
    if constraint:
        meta["constraint"] = constraint
    table, namespace = _field(exc, "table_name"), _field(exc, "schema_name")
    model = _model(schema, table, namespace)
    detail = _field(exc, "detail") or ""
    column = _field(exc, "column_name")
    if code == NOT_NULL_VIOLATION and column:
        fields = _fields(model, [column])
    elif code == FOREIGN_KEY_VIOLATION and model is not None and _REFERENCED_FROM.search(detail):
        # delete of a referenced row: the key names the parent's columns; report the child's
        # referencing field, found by PostgreSQL's default name <table>_<column>_fkey
        fields = [f.name for f in model.fields.values()
                  if f.references and constraint == f"{model.table}_{f.column}_fkey"]
    elif code == CHECK_VIOLATION and model is not None and constraint:
        # inline column checks (enumerations) get PostgreSQL's default name <table>_<column>_check
        fields = [f.name for f in model.fields.values() if constraint == f"{model.table}_{f.column}_check"]
    else:
        fields = _fields(model, _columns(detail))
    if model is not None:
        meta["model"] = model.name
    if fields:
        meta["target"] = fields
    return meta


def _client_value_error(exc: BaseException) -> str | None:
    """asyncpg's client-side DataError (a value it cannot encode for the column's type)."""
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is None or not isinstance(exc, asyncpg.exceptions._base.DataError):
        return None
    return NUMERIC_OUT_OF_RANGE if re.search(r"out of (?:\w+ )?range", str(exc)) else INVALID_VALUE


def _schema_changed(exc: BaseException) -> bool:
    """A statement (or type) cached by asyncpg before a DDL change: "cached plan must not change result type"."""
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is not None and isinstance(exc, (asyncpg.InvalidCachedStatementError, asyncpg.OutdatedSchemaCacheError)):
        return True
    return "cached plan must not change result type" in str(exc)


_UNDEFINED_COLUMN = re.compile(r'column "?(?:[^". ]+\.)?([^". ]+)"? does not exist')


def _missing_column(schema: Schema, message: str) -> dict[str, Any]:
    """``column`` (and ``model`` / ``field`` when one model has it) from "column x does not exist"."""
    m = _UNDEFINED_COLUMN.search(message)
    if not m:
        return {}
    column = m.group(1)
    owners = [(mm.name, f.name) for mm in schema.models.values() for f in mm.fields.values() if f.column == column]
    meta: dict[str, Any] = {"column": column}
    if len(owners) == 1:
        meta["model"], meta["field"] = owners[0]
    return meta


def map_error(schema: Schema, exc: BaseException, kind: str = KIND) -> OrmError | None:
    """The OrmError for a native asyncpg / psycopg / socket error, or None when it is not a database error."""
    if isinstance(exc, OrmError):
        return exc
    client_code = _client_value_error(exc)
    if client_code is not None:
        return native_error(client_code, exc, backend_kind=kind, dialect=DIALECT, meta={"original_code": None})
    server = _is_server_error(exc)
    sqlstate = getattr(exc, "sqlstate", None) if server else None
    code = BY_SQLSTATE.get(sqlstate or "")
    if code == SCHEMA_CHANGED and not _schema_changed(exc):
        code = None  # other feature_not_supported errors stay unmapped
    if code is None and _schema_changed(exc):
        code = SCHEMA_CHANGED  # asyncpg's OutdatedSchemaCacheError (a type changed under the cache)
    if server and sqlstate in ("08P01", "54000") and _POOLER_MESSAGE.search(str(exc)):
        code = POOLER_MISCONFIGURED
    if code is None and sqlstate and sqlstate.startswith("08"):
        code = CONNECTION_ERROR
    if code is None and server:
        msg = str(exc)
        code = next((c for rx, c in _BY_MESSAGE if rx.search(msg)), None)
    missing_namespace = getattr(exc, "farmorm_missing_schema", None)
    if code == MISSING_TABLE and (missing_namespace or re.search(r'^schema ".+" does not exist', str(exc))):
        code = MISSING_SCHEMA
    if code is None and _is_connection_failure(exc):
        code = CONNECTION_ERROR
    if code is None:
        return None
    meta: dict[str, Any] = {"original_code": sqlstate}
    if code in (TRANSACTION_CONFLICT, DEADLOCK) and "conflict with recovery" in str(exc):
        # a hot standby cancelled the read (or ended the session) to replay WAL: run it again
        meta["reason"] = "recovery_conflict"
    if missing_namespace:
        meta["schema"] = missing_namespace
    if code in (UNIQUE_CONSTRAINT_VIOLATION, FOREIGN_KEY_VIOLATION, NOT_NULL_VIOLATION, CHECK_VIOLATION):
        meta.update(_target(schema, code, exc))
    elif code == MISSING_COLUMN:
        meta.update(_missing_column(schema, str(exc)))
    elif code == POOLER_MISCONFIGURED:
        err = native_error(code, exc, backend_kind=kind, dialect=DIALECT, meta={**meta, "setting": "pgbouncer=true"})
        return make_error(code, f"{err.message.split(chr(10))[0]} -- {POOLER_HINT}", backend_kind=kind,
                          dialect=DIALECT, meta=err.meta)
    return native_error(code, exc, backend_kind=kind, dialect=DIALECT, meta=meta)
