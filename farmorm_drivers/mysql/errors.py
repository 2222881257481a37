"""MySQL / MariaDB error codes -> farmorm error codes, with the constraint and target fields.

pymysql errors carry the server's numeric code in ``args[0]``. The connection tags each failed
statement on the exception (``farmorm_statement``) so a duplicate key can be traced to its table:
MariaDB's message names only the key.
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
    UNIQUE_CONSTRAINT_VIOLATION,
    VALUE_TOO_LONG,
    OrmError,
    make_error,
    native_error,
)
from farmorm.schema.manifest import ModelMeta, Schema

#: Galera's "WSREP has not yet prepared node for application use" (ER_UNKNOWN_COM_ERROR, 08S01);
#: 1047 without "WSREP" in the message is an ordinary unknown command and stays unmapped
WSREP_NOT_READY = frozenset({1047})

CODES: dict[int, str] = {
    1062: UNIQUE_CONSTRAINT_VIOLATION,  # ER_DUP_ENTRY
    1451: FOREIGN_KEY_VIOLATION,  # ER_ROW_IS_REFERENCED_2 (deleting a referenced parent)
    1452: FOREIGN_KEY_VIOLATION,  # ER_NO_REFERENCED_ROW_2 (child points at nothing)
    1048: NOT_NULL_VIOLATION,  # ER_BAD_NULL_ERROR
    1364: NOT_NULL_VIOLATION,  # ER_NO_DEFAULT_FOR_FIELD (a NOT NULL column left out, strict mode)
    3819: CHECK_VIOLATION,  # MySQL 8 ER_CHECK_CONSTRAINT_VIOLATED
    4025: CHECK_VIOLATION,  # MariaDB ER_CONSTRAINT_FAILED
    # strict mode refuses a value the column cannot hold instead of truncating or clamping it
    1406: VALUE_TOO_LONG,  # ER_DATA_TOO_LONG
    1264: NUMERIC_OUT_OF_RANGE,  # ER_WARN_DATA_OUT_OF_RANGE
    1690: NUMERIC_OUT_OF_RANGE,  # ER_DATA_OUT_OF_RANGE (an expression such as col + 1 overflowed)
    1366: INVALID_VALUE,  # ER_TRUNCATED_WRONG_VALUE_FOR_FIELD (e.g. an emoji into a utf8mb3 column)
    1292: INVALID_VALUE,  # ER_TRUNCATED_WRONG_VALUE (e.g. an impossible datetime)
    1146: MISSING_TABLE,  # ER_NO_SUCH_TABLE
    1049: MISSING_SCHEMA,  # ER_BAD_DB_ERROR
    1213: DEADLOCK,  # InnoDB rolled back the whole transaction
    # Lock wait timeout: InnoDB rolls back only the statement, not the transaction, unless the
    # server runs with innodb_rollback_on_timeout. farmorm marks the transaction aborted (the next
    # statement raises TRANSACTION_ABORTED, leaving the block rolls back, a commit is refused), and
    # retries= re-runs it from the start: see farmorm_drivers/_sql/aborted.py.
    1205: LOCK_TIMEOUT,  # ER_LOCK_WAIT_TIMEOUT
    3572: LOCK_TIMEOUT,  # ER_LOCK_NOWAIT (MySQL 8 NOWAIT)
    1969: QUERY_TIMEOUT,  # MariaDB ER_STATEMENT_TIMEOUT (max_statement_time)
    3024: QUERY_TIMEOUT,  # MySQL ER_QUERY_TIMEOUT (max_execution_time)
    1317: QUERY_TIMEOUT,  # ER_QUERY_INTERRUPTED (KILL QUERY)
    1054: MISSING_COLUMN,  # ER_BAD_FIELD_ERROR
    1412: SCHEMA_CHANGED,  # ER_TABLE_DEF_CHANGED
    1114: STORAGE_FULL,  # ER_RECORD_FILE_FULL ("The table is full")
    1021: STORAGE_FULL,  # ER_DISK_FULL
    1290: READ_ONLY,  # ER_OPTION_PREVENTS_STATEMENT (--read-only)
    1792: READ_ONLY,  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    2003: CONNECTION_ERROR,  # can't connect
    2006: CONNECTION_ERROR,  # server has gone away
    2013: CONNECTION_ERROR,  # lost connection during query
    2055: CONNECTION_ERROR,  # lost connection (system error)
}

_UNKNOWN_COLUMN = re.compile(r"Unknown column '([^']+)'")
_DUP_KEY = re.compile(r"for key '([^']+)'")
_FK = re.compile(r"`([^`]+)`, CONSTRAINT `([^`]+)` FOREIGN KEY \(([^)]*)\)")
_COLUMN = re.compile(r"(?:Column|Field) '([^']+)'")
_CHECK = re.compile(r"(?:CONSTRAINT `([^`]+)` failed|Check constraint '([^']+)')")
_TABLE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+`((?:[^`]|``)+)`", re.I)


def _model(schema: Schema, table: str | None) -> ModelMeta | None:
    if table is None:
        return None
    return next((m for m in schema.models.values() if m.table == table), None)


def _field_of(model: ModelMeta, column: str) -> str:
    return next((f.name for f in model.fields.values() if f.column == column), column)


def unique_target(schema: Schema, key: str, table: str | None) -> dict[str, Any]:
    """Logical fields of the unique key ``key`` (MySQL 8 writes ``table.key``)."""
    if "." in key:
        table, key = key.split(".", 1)
    meta: dict[str, Any] = {"constraint": key}
    owner = _model(schema, table)
    models = [owner] if owner else list(schema.models.values())
    for m in models:
        if key == "PRIMARY" and m is owner:
            ident = [f.name for f in m.fields.values() if f.is_id] or list(m.identity or ())
            return {**meta, "target": ident, "model": m.name}
        for c in (*m.field_uniques, *m.uniques):
            if c.name == key:
                return {**meta, "target": list(c.fields), "model": m.name}
        for f in m.fields.values():
            if f.unique and f.column == key:  # tables pushed by earlier versions: an inline UNIQUE is named after its column
                return {**meta, "target": [f.name], "model": m.name}
    return meta


class UpsertCollision(Exception):
    """An upsert hit a unique key other than its lookup (mapped to UNIQUE_CONSTRAINT_VIOLATION)."""


def map_error(exc: BaseException, schema: Schema, kind: str) -> OrmError | None:
    """The OrmError for a pymysql / connection error, or None when it is not a database error."""
    if isinstance(exc, OrmError):
        return exc
    code: str | None = None
    native: Any = None
    if isinstance(exc, UpsertCollision):
        return native_error(UNIQUE_CONSTRAINT_VIOLATION, exc, backend_kind=kind, dialect="mysql",
                            meta={"original_code": 1062})
    if isinstance(exc, OSError):
        code = CONNECTION_ERROR
    else:
        # pymysql's (aiomysql) or asyncmy's error classes, whichever the application imported
        families = [(m.err.MySQLError, m.err.InterfaceError) for m in [sys.modules.get("pymysql")] if m is not None]
        families += [(m.MySQLError, m.InterfaceError) for m in [sys.modules.get("asyncmy.errors")] if m is not None]
        family = next((f for f in families if isinstance(exc, f[0])), None)
        if family is None:
            return None
        native = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        code = CODES.get(native) if native is not None else None
        if code is None and isinstance(exc, family[1]):
            code = CONNECTION_ERROR  # the connection is already closed
    msg = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code is None and native in WSREP_NOT_READY and "WSREP" in msg:
        # a Galera node outside the primary component (lost quorum, joining, desynced): nothing ran;
        # the same statement succeeds on another node, or on this one once it has rejoined
        return make_error(CONNECTION_ERROR, native_error(CONNECTION_ERROR, exc, backend_kind=kind, dialect="mysql").message,
                          backend_kind=kind, dialect="mysql", retryable=True,
                          meta={"original_code": native, "reason": "wsrep_not_ready", "original_message": msg})
    if code is None:
        return None
    statement = getattr(exc, "farmorm_statement", None)
    m = _TABLE.match(statement) if statement else None
    table = m.group(1).replace("``", "`") if m else None
    meta: dict[str, Any] = {"original_code": native}
    if code == UNIQUE_CONSTRAINT_VIOLATION and (km := _DUP_KEY.search(msg)):
        meta.update(unique_target(schema, km.group(1), table))
    elif code == FOREIGN_KEY_VIOLATION and (fm := _FK.search(msg)):
        owner = _model(schema, fm.group(1))  # the child table, which holds the key
        cols = [c.strip(" `") for c in fm.group(3).split(",")]
        meta["constraint"] = fm.group(2)
        meta["target"] = [_field_of(owner, c) for c in cols] if owner else cols
    elif code == NOT_NULL_VIOLATION and (cm := _COLUMN.search(msg)):
        owner = _model(schema, table)
        meta["target"] = [_field_of(owner, cm.group(1)) if owner else cm.group(1)]
    elif code == CHECK_VIOLATION and (ch := _CHECK.search(msg)):
        meta["constraint"] = ch.group(1) or ch.group(2)
    elif code == MISSING_COLUMN and (uc := _UNKNOWN_COLUMN.search(msg)):
        column = uc.group(1).rsplit(".", 1)[-1].strip("`")
        meta["column"] = column
        owners = [(mm.name, f.name) for mm in schema.models.values() for f in mm.fields.values() if f.column == column]
        if len(owners) == 1:
            meta["model"], meta["field"] = owners[0]
    return native_error(code, exc, backend_kind=kind, dialect="mysql", meta=meta)
