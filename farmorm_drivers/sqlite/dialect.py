"""SQLite storage rules.

Datetimes are fixed-width ISO-8601 text in UTC (``2026-01-01T00:00:00.000000+00:00``), so text
order is time order and microseconds survive. Decimals are text (exact round trip) compared and
ordered as REAL. JSON is text encoded with sorted keys, so whole-value equality is text equality.
IN lists bind as one JSON array read through ``json_each``: one shape, no bind-variable limit.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from typing import Any

import msgspec

from farmorm.core.driver import inline_decoder
from farmorm.query.values import DECIMAL_FRACTION_DIGITS, DECIMAL_INTEGER_DIGITS, normalize_decimal, scaled_decimal
from farmorm.schema.manifest import FieldMeta

from .._sql.ddl import DdlHooks
from .._sql.dialect import Fn, SqlDialect, decode_json, encode_json
from .._sql.dialect import decode_int_bool as decode_bool

_UTC = _dt.timezone.utc
_json_decode = msgspec.json.decode


_to_builtins = msgspec.to_builtins
_datetime = _dt.datetime


def encode_datetime(v: _dt.datetime) -> str:
    """``v`` in UTC as fixed-width ISO-8601 text (``…T00:00:00.000000+00:00``): the text of
    ``isoformat(timespec="microseconds")``, built from msgspec's RFC 3339 form (``…Z``, fraction
    only when non-zero), which costs about a quarter of ``isoformat``'s instructions (datetime
    columns are encoded once per row on every insert)."""
    if type(v) is not _datetime:
        return v.astimezone(_UTC).isoformat(timespec="microseconds")
    if v.tzinfo is not _UTC:
        v = v.astimezone(_UTC)
    text: str = _to_builtins(v)
    return text[:-1] + "+00:00" if len(text) == 27 else text[:-1] + ".000000+00:00"


def decode_datetime(v: Any) -> _dt.datetime:
    if not isinstance(v, str):
        return v  # type: ignore[no-any-return]
    d = _dt.datetime.fromisoformat(v)
    if d.tzinfo is _UTC:
        return d  # farmorm's own text (`...+00:00`): the common case, no more work
    # text another tool wrote (SQLite's CURRENT_TIMESTAMP is '2026-01-01 10:00:00', UTC, no zone)
    return d.replace(tzinfo=_UTC) if d.tzinfo is None else d.astimezone(_UTC)


# the row builders test the common case inline (a call per value costs more than the test):
# farmorm's own datetime text parses straight to an aware UTC datetime; anything else goes through
# the function (booleans and JSON: the forms of ``_sql.dialect.decode_int_bool`` / ``decode_json``)
inline_decoder(decode_datetime, "{t} if {v}.__class__ is str and ({t} := {ISO}({v})).tzinfo is {UTC} else {d}({v})",
               ISO=_dt.datetime.fromisoformat, UTC=_UTC)


#: the SQL function (registered on every connection) doing exact decimal arithmetic on text
DECIMAL_FUNCTION = "farmorm_decimal"
_DECIMAL_CONTEXT = decimal.Context(prec=200, rounding=decimal.ROUND_HALF_UP)
_SCALE = decimal.Decimal(1).scaleb(-DECIMAL_FRACTION_DIGITS)


def decimal_arith(op: str, a: Any, b: Any) -> str | None:
    """``a <op> b`` on decimals stored as text, rounded half away from zero to the SQL servers'
    scale (30 places) as their ``numeric(65, 30)`` columns round; NULL stays NULL."""
    if a is None or b is None:
        return None
    x, y = decimal.Decimal(str(a)), decimal.Decimal(str(b))
    ctx = _DECIMAL_CONTEXT
    r = ctx.add(x, y) if op == "add" else ctx.subtract(x, y) if op == "sub" else \
        ctx.multiply(x, y) if op == "mul" else ctx.divide(x, y)
    r = r.quantize(_SCALE, context=ctx)
    _, digits, exp = r.as_tuple()
    assert isinstance(exp, int)
    if len(digits) + exp > DECIMAL_INTEGER_DIGITS and any(digits):
        raise OverflowError(f"decimal {r} does not fit {DECIMAL_INTEGER_DIGITS} integer digits")
    return str(normalize_decimal(r))


def _glob_escape(text: str) -> str:
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)


_GLOB = {
    "contains": lambda v: f"*{_glob_escape(v)}*",
    "starts_with": lambda v: f"{_glob_escape(v)}*",
    "ends_with": lambda v: f"*{_glob_escape(v)}",
}

_ENCODERS: dict[str, Fn] = {
    "datetime": encode_datetime,
    "decimal": str,
    "json": encode_json,
}
_DECODERS: dict[str, Fn] = {
    "boolean": decode_bool,
    "datetime": decode_datetime,
    "decimal": normalize_decimal,
    "json": decode_json,
}


#: the SQL function that finishes a decimal aggregate exactly (registered on every connection)
DECIMAL_AGGREGATE = "farmorm_decimal"


def decimal_aggregate(fn: str, values: str | None) -> str | None:
    """``sum`` / ``min`` / ``max`` of decimals stored as text, exactly: SQLite's own SUM/MIN/MAX
    would add them as REAL or compare them as text. ``values`` is a ``json_group_array``."""
    if values is None:
        return None
    import decimal

    numbers = [decimal.Decimal(v) for v in _json_decode(values) if v is not None]
    if not numbers:
        return None
    if fn == "sum":
        with decimal.localcontext(decimal.Context(prec=100)):  # 65 digits fit; never rounds
            return str(sum(numbers, decimal.Decimal(0)))
    return str(min(numbers) if fn == "min" else max(numbers))


def _echo_datetime(v: _dt.datetime) -> _dt.datetime:
    """A checked datetime as a read returns it: an aware UTC ``datetime`` is (the stored text has
    microseconds, as a datetime does); anything else goes through the text."""
    return v if v.__class__ is _datetime and v.tzinfo is _UTC else decode_datetime(encode_datetime(v))


def _echo_json(v: Any) -> Any:
    return _json_decode(encode_json(v))


# the common case, inline in a generated row builder (see core.driver.inline_decoder)
inline_decoder(_echo_datetime, "{v} if {v}.__class__ is {DT} and {v}.tzinfo is {UTC} else {d}({v})",
               DT=_dt.datetime, UTC=_UTC)


#: per value kind, what a read returns for a value an INSERT bound (see SqliteDialect.echo): the
#: column affinities of farmorm's tables (TEXT, INTEGER) store these values exactly as bound, and
#: checked text, integers and booleans are plain str / int / bool already (query/values.py).
#: Decimals are read back (their text would be rewritten in a NUMERIC column an app made itself).
_ECHO: dict[str, Fn | None] = {
    "string": None, "enum": None, "integer": None, "bigint": None, "boolean": None,
    "datetime": _echo_datetime, "json": _echo_json,
}


def _list_item(kind: str) -> Fn | None:
    if kind == "decimal":
        return float  # compared against CAST(col AS REAL)
    if kind == "datetime":
        return encode_datetime
    return None


class SqliteDialect(SqlDialect):
    name = "sqlite"
    placeholder_style = "qmark"
    value_encoders = _ENCODERS
    value_decoders = _DECODERS

    def decoder(self, f: FieldMeta) -> Fn | None:
        if f.scale is not None and f.value_kind == "decimal":
            return scaled_decimal(f.scale)  # the text keeps what was written: give it the declared places
        return super().decoder(f)

    def echo(self, f: FieldMeta) -> tuple[bool, Fn | None]:
        # SQLite stores what an INSERT binds, and its triggers cannot change the row being inserted
        # (RETURNING reports the row as inserted, not what an AFTER trigger did to it): for these
        # kinds the bound values are the rows RETURNING would read back, without reading them
        kind = f.value_kind
        return (kind in _ECHO, _ECHO.get(kind))

    def list_encoder(self, f: FieldMeta) -> Fn | None:
        item = _list_item(f.value_kind)
        if item is None:
            return encode_json
        return lambda values: encode_json([item(v) for v in values])

    def comparable(self, expr: str, f: FieldMeta) -> str:
        return f"CAST({expr} AS REAL)" if f.value_kind == "decimal" else expr

    def in_list(self, expr: str, ph: str, negated: bool) -> tuple[str, bool]:
        return (f"{expr} {'NOT IN' if negated else 'IN'} (SELECT value FROM json_each({ph}))", False)

    def folded_in_list(self, expr: str, ph: str, negated: bool) -> tuple[str, bool, bool]:
        # lower() on both sides in SQL: the same (ASCII) folding as an insensitive "eq"
        op = "NOT IN" if negated else "IN"
        return f"{self.fold(expr)} {op} (SELECT lower(value) FROM json_each({ph}))", False, False

    def aggregate(self, fn: str, expr: str | None, f: FieldMeta | None) -> str:
        if expr is not None and f is not None and f.value_kind == "decimal":
            if fn == "avg":  # only filters and sorts groups: the returned avg is exact (sum / count)
                return f"AVG(CAST({expr} AS REAL))"
            if fn in ("sum", "min", "max"):
                return f"{DECIMAL_AGGREGATE}('{fn}', json_group_array({expr}))"
        return super().aggregate(fn, expr, f)

    def match(self, expr: str, kind: str, ph: str, insensitive: bool) -> tuple[str, Fn]:
        if insensitive:
            return super().match(expr, kind, ph, insensitive)
        # LIKE ignores ASCII case in SQLite; GLOB is case-sensitive
        return f"{expr} GLOB {ph}", _GLOB[kind]

    def arith(self, column: str, op: str, ph: str, f: FieldMeta) -> str:
        if f.value_kind == "decimal":  # text: exact arithmetic in the function the driver registers
            return f"{DECIMAL_FUNCTION}('{op}', {column}, {ph})"
        return super().arith(column, op, ph, f)

    def lock_clause(self, lock: str) -> str:
        # no row locks: a transaction starts with BEGIN IMMEDIATE, which holds the database's write lock
        return ""

    def json_encoder(self) -> Fn | None:
        return encode_json


class SqliteDdlHooks(DdlHooks):
    def index_column(self, column: str) -> str:
        # SQLite reads an unknown "double-quoted" name as a string literal, so an index on a
        # column the table lacks would silently index a constant; `backticks` are always names
        return "`" + column.replace("`", "``") + "`"


def ddl_hooks() -> DdlHooks:
    return SqliteDdlHooks(
        dialect=SqliteDialect(),
        types={
            "string": "TEXT",
            "integer": "INTEGER",
            "bigint": "INTEGER",
            "boolean": "INTEGER",
            "decimal": "TEXT",
            "datetime": "TEXT",
            "json": "TEXT",
        },
        identity_pk="INTEGER PRIMARY KEY AUTOINCREMENT",
        unique_as_index=True,
    )
