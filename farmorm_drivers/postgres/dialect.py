"""PostgreSQL storage rules (asyncpg binds and returns native Python values).

Parameters are ``$n``. IN lists bind as one array (``expr = ANY($1)``) so a query shape is one
prepared statement whatever the list length. jsonb travels as JSON text (asyncpg's default jsonb
codec), encoded with sorted keys by msgspec. timestamptz comes back as an aware UTC datetime;
numeric is normalized like on every backend. NULLs sort first ascending, last descending.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from farmorm.core.driver import inline_decoder
from farmorm.query.values import normalize_decimal
from farmorm.schema.manifest import FieldMeta

from .._sql.ddl import DdlHooks
from .._sql.dialect import Fn, SqlDialect, decode_json, encode_json

_UTC = _dt.timezone.utc

def decode_datetime(v: Any) -> Any:
    # asyncpg already returns UTC for timestamptz; normalize anything else (e.g. a session TZ)
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            return v.replace(tzinfo=_UTC)
        return v if v.tzinfo is _UTC else v.astimezone(_UTC)
    return v


# the row builders test the common case inline (a call per value costs more than the test): an
# aware UTC datetime (what asyncpg returns for every timestamptz but the two infinities) is kept
# as it is; anything else goes through the function (JSON: ``_sql.dialect.decode_json``'s form)
inline_decoder(decode_datetime, "{v} if {v}.__class__ is {DT} and {v}.tzinfo is {UTC} else {d}({v})",
               DT=_dt.datetime, UTC=_UTC)

_ENCODERS: dict[str, Fn] = {"json": encode_json}
# asyncpg's binary codec returns an aware UTC datetime, except for the two instants it encodes as
# -infinity / infinity (0001-01-01 00:00 and 9999-12-31 23:59:59.999999 UTC): those come back
# naive, and decode_datetime gives them their UTC zone back (tests/reliability/test_fidelity.py T30)
_DECODERS: dict[str, Fn] = {
    "decimal": normalize_decimal,
    "json": decode_json,
    "datetime": decode_datetime,
}


#: the array element type of each value kind in a multi-row insert (an integer column takes int8
#: by assignment cast; enums are text with a CHECK)
_ARRAY_TYPES = {"string": "text", "enum": "text", "integer": "int8", "bigint": "int8", "boolean": "bool",
                "decimal": "numeric", "datetime": "timestamptz", "json": "jsonb"}


class PostgresDialect(SqlDialect):
    name = "postgres"
    value_encoders = _ENCODERS
    value_decoders = _DECODERS
    placeholder_style = "numeric"
    #: multi-row inserts bind one array per column (asyncpg): one short statement text whatever the
    #: row count, so asyncpg prepares it once per connection instead of parsing a 6,000-parameter
    #: VALUES list on every call (too long for its statement cache)
    columnar_insert = True

    def array_type(self, f: FieldMeta) -> str | None:
        return _ARRAY_TYPES.get(f.value_kind) if self.columnar_insert else None

    def value_sql(self, ph: str, f: FieldMeta, array: bool = False) -> str:
        # A datetime is sent as timestamptz, so the server converts it to whatever the column is:
        # asyncpg refuses an aware datetime for a `timestamp without time zone` column (tables
        # farmorm did not create), and the cast is a no-op on farmorm's own timestamptz columns.
        if f.value_kind == "datetime":
            return f"{ph}::timestamptz[]" if array else f"{ph}::timestamptz"
        return ph

    def list_encoder(self, f: FieldMeta) -> Fn | None:
        # asyncpg wants a list for an array parameter; any iterable the parser produced becomes one
        return list

    def in_list(self, expr: str, ph: str, negated: bool) -> tuple[str, bool]:
        if negated:
            return (f"NOT ({expr} = ANY({ph}))", False)
        return (f"{expr} = ANY({ph})", False)

    def folded_in_list(self, expr: str, ph: str, negated: bool) -> tuple[str, bool, bool]:
        # lower() on both sides in SQL: the same folding as an insensitive "eq"
        probe = f"{self.fold(expr)} = ANY(ARRAY(SELECT lower(x) FROM unnest({ph}::text[]) AS x))"
        return (f"NOT ({probe})" if negated else probe), False, False

    def match(self, expr: str, kind: str, ph: str, insensitive: bool) -> tuple[str, Fn]:
        sql, transform = super().match(expr, kind, ph, False)
        if insensitive:
            # ILIKE folds case (Unicode-aware) and can use a trigram index; LIKE is case-sensitive
            sql = sql.replace(" LIKE ", " ILIKE ", 1)
        return sql, transform

    def json_equals(self, expr: str, ph: str, negated: bool) -> str:
        return f"{expr} {'<>' if negated else '='} {ph}::jsonb"

    def json_encoder(self) -> Fn | None:
        return encode_json

    def order(self, expr: str, desc: bool, nulls: str | None = None) -> str:
        # PostgreSQL's default is the reverse (NULLs largest): always say where they go
        if nulls is None:
            nulls = "last" if desc else "first"
        return f"{expr} {'DESC' if desc else 'ASC'} NULLS {nulls.upper()}"

    def limit(self, take: str | None, skip: str | None) -> str:
        if take is None and skip is not None:
            return f" OFFSET {skip}"
        return super().limit(take, skip)

    def int_param(self, ph: str) -> str:
        # in ``$1 + $2`` PostgreSQL cannot infer the parameter types
        return f"{ph}::bigint"

    def true(self) -> str:
        return "TRUE"

    def false(self) -> str:
        return "FALSE"


class DecodedJsonDialect(PostgresDialect):
    """PostgreSQL on a connection whose json/jsonb codec already returns Python objects
    (psycopg's loader; an asyncpg connection set up by SQLAlchemy): nothing left to decode."""

    columnar_insert = False  # the engine's own codecs encode array elements: keep VALUES lists

    def decoder(self, f: FieldMeta) -> Fn | None:
        if f.value_kind == "json":
            return None  # a JSON string is already a str here: decoding it again would fail
        return super().decoder(f)


def ddl_hooks() -> DdlHooks:
    return DdlHooks(
        dialect=PostgresDialect(),
        types={
            "string": "text",
            "integer": "integer",
            "bigint": "bigint",
            "boolean": "boolean",
            "decimal": "numeric(65, 30)",
            "datetime": "timestamptz",
            "json": "jsonb",
        },
        identity_pk="bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        bool_true="true",
        bool_false="false",
        create_namespaces=True,
        decimal_template="numeric({p}, {s})",
        varchar_template="varchar({n})",
    )
