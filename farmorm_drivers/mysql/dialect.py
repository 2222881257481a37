"""MySQL / MariaDB storage rules.

Datetimes are ``DATETIME(6)`` holding naive UTC (every connection runs with ``time_zone =
'+00:00'``), read back with UTC attached, so microseconds survive. Decimals are ``DECIMAL(65,30)``
normalized on read. JSON is the ``JSON`` type (MariaDB: a checked LONGTEXT) holding text encoded
with sorted keys. Text is ``utf8mb4`` with a binary NO PAD collation, so equality, LIKE and ORDER
BY are case-sensitive and trailing spaces count, as on the other backends. IN lists expand to one
``%s`` per value (aiomysql cannot bind an array).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from farmorm.core.driver import inline_decoder
from farmorm.query.values import normalize_decimal
from farmorm.schema.manifest import FieldMeta, Schema

from .._sql.ddl import DdlHooks, sql_string
from .._sql.dialect import Fn, SqlDialect, decode_json, encode_json
from .._sql.dialect import decode_int_bool as decode_bool

_UTC = _dt.timezone.utc

#: MySQL's largest LIMIT: "skip without take" is written as LIMIT <max> OFFSET n
MAX_LIMIT = "18446744073709551615"
#: characters of an indexed string column without a max_length (utf8mb4: 191 × 4 bytes fit an
#: index key of 767 bytes)
INDEXED_STRING_CHARS = 191


def encode_datetime(v: _dt.datetime) -> _dt.datetime:
    """Aware -> naive UTC: DATETIME has no zone, and the session zone is UTC."""
    return v.astimezone(_UTC).replace(tzinfo=None)


def decode_datetime(v: Any) -> _dt.datetime:
    if isinstance(v, str):
        v = _dt.datetime.fromisoformat(v)
    assert isinstance(v, _dt.datetime)
    return v.replace(tzinfo=_UTC) if v.tzinfo is None else v.astimezone(_UTC)


# the row builders test the common case inline (a call per value costs more than the test): the
# driver's naive DATETIME gets its UTC zone; anything else goes through the function (booleans
# and JSON: the forms of ``_sql.dialect.decode_int_bool`` / ``decode_json``)
inline_decoder(decode_datetime, "{v}.replace(tzinfo={UTC}) if {v}.__class__ is {DT} and {v}.tzinfo is None else {d}({v})",
               DT=_dt.datetime, UTC=_UTC)


_ENCODERS: dict[str, Fn] = {"datetime": encode_datetime, "json": encode_json}
_DECODERS: dict[str, Fn] = {
    "boolean": decode_bool,
    "datetime": decode_datetime,
    "decimal": normalize_decimal,
    "json": decode_json,
}


class MysqlDialect(SqlDialect):
    name = "mysql"
    value_encoders = _ENCODERS
    value_decoders = _DECODERS
    placeholder_style = "format"
    supports_returning = False
    # backslash is an escape character inside MySQL string literals (we never set
    # NO_BACKSLASH_ESCAPES), so one backslash is written as two
    like_escape_clause = " ESCAPE '\\\\'"

    def __init__(self, mariadb: bool = True) -> None:
        self.mariadb = mariadb

    def quote(self, ident: str) -> str:
        return "`" + ident.replace("`", "``") + "`"

    def lock_clause(self, lock: str) -> str:
        # MariaDB has no FOR SHARE; MySQL 8 still accepts the older spelling
        return " LOCK IN SHARE MODE" if lock == "share" else super().lock_clause(lock)

    def json_equals(self, expr: str, ph: str, negated: bool) -> str:
        if self.mariadb:
            # MariaDB has no CAST(... AS JSON); JSON_EQUALS (10.7+) compares values, not text.
            # Compare its result explicitly: MariaDB 10.11 lets a bare `WHERE JSON_EQUALS(NULL, …)`
            # through even though the expression is NULL; `= 1` / `= 0` keep SQL NULL semantics.
            return f"JSON_EQUALS({expr}, {ph}) = {0 if negated else 1}"
        return f"{expr} {'<>' if negated else '='} CAST({ph} AS JSON)"

    def json_encoder(self) -> Fn | None:
        return encode_json

    def order(self, expr: str, desc: bool, nulls: str | None = None) -> str:
        # no NULLS FIRST / LAST: NULLs sort smallest, so a key that wants them the other way
        # sorts on "is it NULL" first
        default = "last" if desc else "first"
        plain = f"{expr} {'DESC' if desc else 'ASC'}"
        if nulls is None or nulls == default:
            return plain
        return f"({expr} IS NULL) {'DESC' if nulls == 'first' else 'ASC'}, {plain}"

    def limit(self, take: str | None, skip: str | None) -> str:
        if take is None and skip is not None:
            return f" LIMIT {MAX_LIMIT} OFFSET {skip}"
        return super().limit(take, skip)

    def arith(self, column: str, op: str, ph: str, f: FieldMeta) -> str:
        # ``/`` on integers gives a decimal here; ``DIV`` truncates toward zero like the others
        if op == "div":  # and a decimal quotient rounds to the column's 30 places (no truncation warning)
            return f"{column} DIV {ph}" if f.value_kind != "decimal" else f"ROUND({column} / {ph}, 30)"
        return super().arith(column, op, ph, f)

    def insert_default_values(self, table: str) -> str:
        return f"INSERT INTO {table} () VALUES ()"

    def upsert_clause(self, conflict: list[str], assignments: list[str], first_conflict: str) -> str:
        # ON DUPLICATE KEY fires on any unique key; with nothing to update, a no-op self-assignment
        if not assignments:
            assignments = [f"{first_conflict} = {first_conflict}"]
        return f" ON DUPLICATE KEY UPDATE {', '.join(assignments)}"


@dataclass
class MysqlDdlHooks(DdlHooks):
    """MySQL DDL: defaults as expressions (TEXT takes no literal default on MySQL 8)."""

    schema: Schema | None = field(default=None)

    def string(self, value: str) -> str:
        # backslash escapes in MySQL string literals (NO_BACKSLASH_ESCAPES is never set)
        return sql_string(value.replace("\\", "\\\\"))

    def literal(self, f: FieldMeta) -> str | None:
        lit = super().literal(f)
        if lit is not None and lit.startswith("'") and f.kind != "enum":
            return f"({lit})"  # MySQL 8.0.13+ / MariaDB 10.2+: an expression default works on TEXT
        return lit



def text_collation(mariadb: bool) -> str:
    """Binary and NO PAD: case-sensitive, and ``'a ' <> 'a'`` as on the other backends
    (utf8mb4_bin pads with spaces, so it would treat trailing spaces as insignificant)."""
    return "utf8mb4_nopad_bin" if mariadb else "utf8mb4_0900_bin"


def ddl_hooks(schema: Schema | None = None, mariadb: bool = True) -> MysqlDdlHooks:
    collation = text_collation(mariadb)
    return MysqlDdlHooks(
        dialect=MysqlDialect(mariadb),
        types={
            "string": "TEXT",
            "integer": "INT",
            "bigint": "BIGINT",
            "boolean": "TINYINT(1)",
            "decimal": "DECIMAL(65,30)",
            "datetime": "DATETIME(6)",
            "json": "JSON",
        },
        indexed_string_type=f"VARCHAR({INDEXED_STRING_CHARS})",
        identity_pk="BIGINT AUTO_INCREMENT PRIMARY KEY",
        index_if_not_exists=False,  # MySQL 8 has no CREATE INDEX IF NOT EXISTS: 1061 is tolerated
        enum_type=True,
        table_suffix=f" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={collation}",
        string_collation=f"COLLATE {collation}",
        inline_fk_indexes=True,
        decimal_template="DECIMAL({p},{s})",
        varchar_template="VARCHAR({n})",
        schema=schema,
    )


__all__ = ["MysqlDialect", "ddl_hooks", "sql_string"]
