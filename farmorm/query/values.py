"""Python-side checks of field values: type, range, enum membership and timezone awareness.

They run in ``parse`` before any I/O, so a bad value never reaches a driver.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import os
import re
import threading
import time
from typing import Any, Callable

from ..core.driver import inline_decoder
from ..core.errors import validation_error
from ..schema.manifest import FieldMeta, ModelMeta

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

_JSON_SCALARS = (str, int, float, bool, type(None))
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(v: str) -> str | None:
    """Why text ``v`` cannot be stored the same way on every backend, or None.

    NUL: PostgreSQL text and jsonb cannot hold it (and MongoDB keys cannot), so it is refused
    everywhere rather than stored on some backends and refused or stripped on others. A lone
    surrogate is not Unicode: no driver can encode it as UTF-8."""
    if "\x00" in v:
        return "text cannot contain NUL (\\x00) characters"
    if not v.isascii() and _SURROGATE.search(v):
        return "text must be valid Unicode (it contains a lone surrogate)"
    return None


def _json_problem(value: Any, depth: int = 0) -> str | None:
    if depth > 64:
        return "JSON nested deeper than 64 levels"
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, _JSON_SCALARS):
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            return "expected a JSON-compatible value (NaN and Infinity are not JSON)"
        return None
    if isinstance(value, (list, tuple)):
        return next((p for p in (_json_problem(v, depth + 1) for v in value) if p), None)
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return "expected a JSON-compatible value (object keys must be str)"
            problem = text_problem(k) or _json_problem(v, depth + 1)
            if problem:
                return problem
        return None
    return f"expected a JSON-compatible value, got {type(value).__name__}"


def _json_ok(value: Any, depth: int = 0) -> bool:
    return _json_problem(value, depth) is None


def _bad(model: ModelMeta, f: FieldMeta, expected: str, value: Any) -> Exception:
    return validation_error(
        f'Invalid value for field "{f.name}" on model "{model.name}": expected {expected}, '
        f"got {type(value).__name__}.",
        model=model.name,
        field=f.name,
    )


def _int_checker(bounds: tuple[int, int], label: str) -> Callable[[ModelMeta, FieldMeta, Any], Any]:
    lo, hi = bounds

    def check(model: ModelMeta, f: FieldMeta, v: Any) -> Any:
        if type(v) is not int:
            if isinstance(v, int) and not isinstance(v, bool):
                v = int(v)
            else:
                raise _bad(model, f, label, v)
        if not lo <= v <= hi:
            raise validation_error(
                f'Invalid value for field "{f.name}" on model "{model.name}": {v} is out of range '
                f"for {label} ({lo}..{hi}).",
                model=model.name,
                field=f.name,
            )
        return v

    return check


def _refuse_text(model: ModelMeta, f: FieldMeta, problem: str) -> Exception:
    return validation_error(
        f'Invalid value for field "{f.name}" on model "{model.name}": {problem}.',
        model=model.name,
        field=f.name,
    )


def check_text(model: ModelMeta, f: FieldMeta, v: str) -> str:
    """Refuse text no backend can store identically (NUL, lone surrogates); see :func:`text_problem`."""
    problem = text_problem(v)
    if problem is not None:
        raise _refuse_text(model, f, problem)
    return v


def _check_string(model: ModelMeta, f: FieldMeta, v: Any) -> Any:
    if not isinstance(v, str):
        raise _bad(model, f, "str", v)
    return check_text(model, f, _plain_str(v))


def _plain_str(v: str) -> str:
    """``v`` as a plain ``str``: a subclass (a ``str`` enum member) is stored as its text and read
    back as ``str``, so a written value is normalized as ints are (backends that return the values
    they bound then return what a read would)."""
    return v if v.__class__ is str else str.__str__(v)


def _check_bool(model: ModelMeta, f: FieldMeta, v: Any) -> Any:
    if not isinstance(v, bool):
        raise _bad(model, f, "bool", v)
    return v


#: decimal columns are numeric(65, 30) on the SQL servers: 35 integer and 30 fractional digits
DECIMAL_INTEGER_DIGITS = 35
DECIMAL_FRACTION_DIGITS = 30
#: wide enough for every decimal farmorm stores (65 digits), so no operation here ever rounds
_WIDE = decimal.Context(prec=100)
_ZERO = decimal.Decimal(0)
#: scale -> the exponent quantize() aims at: 2 -> Decimal("0.01")
_EXPONENTS = tuple(decimal.Decimal(1).scaleb(-s) for s in range(DECIMAL_FRACTION_DIGITS + 1))


def _decimal_in_range(model: ModelMeta, f: FieldMeta, v: decimal.Decimal,
                      precision: int | None = None, scale: int | None = None) -> decimal.Decimal:
    """``v`` if it fits the column (``numeric(65, 30)``, or the field's ``decimal(p, s)`` when
    ``precision`` is given: then it comes back with exactly ``s`` places). Never rounds."""
    _, digits, exp = v.as_tuple()
    assert isinstance(exp, int)
    places = DECIMAL_FRACTION_DIGITS if scale is None else scale
    whole = DECIMAL_INTEGER_DIGITS if precision is None else precision - places
    fraction = -exp if exp < 0 else 0
    if fraction > places:
        # trailing zeros beyond the scale carry no value: keep the number, drop them
        v = normalize_decimal(v)
        _, digits, exp = v.as_tuple()
        assert isinstance(exp, int)
        fraction = -exp if exp < 0 else 0
    integer = max(0, len(digits) + exp) if any(digits) else 0
    if fraction > places or integer > whole:
        raise validation_error(
            f'Invalid value for field "{f.name}" on model "{model.name}": decimal {v} does not fit '
            f"{whole} integer and {places} fractional digits"
            + (f" (decimal({precision}, {scale})); it is refused, never rounded." if precision else "."),
            model=model.name,
            field=f.name,
        )
    if scale is not None:
        return _WIDE.quantize(v, _EXPONENTS[scale])  # the column's exact places: 12.5 -> 12.50
    return v


def _check_decimal(model: ModelMeta, f: FieldMeta, v: Any) -> Any:
    if isinstance(v, decimal.Decimal):
        if not v.is_finite():
            raise validation_error(
                f'Invalid value for field "{f.name}" on model "{model.name}": decimal must be finite.',
                model=model.name,
                field=f.name,
            )
        return _decimal_in_range(model, f, v)
    if isinstance(v, int) and not isinstance(v, bool):
        return _decimal_in_range(model, f, decimal.Decimal(v))
    if isinstance(v, str):
        try:
            d = decimal.Decimal(v)
        except decimal.InvalidOperation:
            raise _bad(model, f, "Decimal", v) from None
        if d.is_finite():
            return _decimal_in_range(model, f, d)
    raise _bad(model, f, "Decimal", v)


def _check_datetime(model: ModelMeta, f: FieldMeta, v: Any) -> Any:
    if not isinstance(v, _dt.datetime):
        raise _bad(model, f, "datetime", v)
    if v.tzinfo is None or v.utcoffset() is None:
        raise validation_error(
            f'Invalid value for field "{f.name}" on model "{model.name}": datetime must be timezone-aware.',
            model=model.name,
            field=f.name,
        )
    try:
        return v.astimezone(_dt.timezone.utc)
    except OverflowError:  # e.g. 0001-01-01 at +05:00 is year 0 in UTC
        raise validation_error(
            f'Invalid value for field "{f.name}" on model "{model.name}": datetime is outside the range '
            "of UTC datetimes (years 1 to 9999 in UTC).",
            model=model.name,
            field=f.name,
        ) from None


def _check_json(model: ModelMeta, f: FieldMeta, v: Any) -> Any:
    problem = _json_problem(v)
    if problem is None:
        return v
    if problem.startswith("expected"):
        raise _bad(model, f, "a JSON-compatible value", v)
    raise _refuse_text(model, f, problem)


def _check_enum(model: ModelMeta, f: FieldMeta, v: Any) -> Any:
    if not isinstance(v, str):
        raise _bad(model, f, "str", v)
    if v not in (f.enum_values or ()):
        raise validation_error(
            f'Invalid value "{v}" for enum field "{f.name}" on model "{model.name}". '
            f"Expected one of: {', '.join(f.enum_values or ())}.",
            model=model.name,
            field=f.name,
        )
    return _plain_str(v)


CHECKERS: dict[str, Callable[[ModelMeta, FieldMeta, Any], Any]] = {
    "string": _check_string,
    "boolean": _check_bool,
    "integer": _int_checker(INT32, "integer"),
    "bigint": _int_checker(INT64, "bigint"),
    "decimal": _check_decimal,
    "datetime": _check_datetime,
    "json": _check_json,
    "enum": _check_enum,
}
# integer ids are 64-bit so an app can outgrow 2**31 rows
_CHECK_INT_ID = _int_checker(INT64, "integer")


def check_value(model: ModelMeta, f: FieldMeta, value: Any) -> Any:
    """Validate ``value`` for ``f`` and return it normalized (datetimes in UTC, ints as int)."""
    if f.kind == "id":
        return _CHECK_INT_ID(model, f, value) if f.id_type == "integer" else _check_string(model, f, value)
    return CHECKERS[f.column_kind or f.kind](model, f, value)


def check_writable(model: ModelMeta, f: FieldMeta, value: Any) -> Any:
    """Validate a value being written: ``None`` only for nullable fields; a ``decimal(p, s)`` must
    fit its digits (filters may compare with any decimal, writes never round)."""
    if value is None:
        if f.nullable:
            return None
        raise validation_error(
            f'Field "{f.name}" on model "{model.name}" cannot be null.', model=model.name, field=f.name
        )
    checked = check_value(model, f, value)
    if f.max_length is not None and len(checked) > f.max_length:
        raise validation_error(
            f'Invalid value for field "{f.name}" on model "{model.name}": {len(checked)} characters, '
            f"more than max_length={f.max_length}.",
            model=model.name, field=f.name,
        )
    if f.precision is not None and f.kind == "decimal":
        return _decimal_in_range(model, f, checked, f.precision, f.scale or 0)
    return checked


# --------------------------------------------------------------------------------------------
# The write hot path: the common case of ``check_writable`` as an inline test

_UTC = _dt.timezone.utc


def accepts_as_is(f: FieldMeta, v: str, c: str) -> tuple[str, Any] | None:
    """A Python expression over the variable ``v``, true only for values ``check_writable`` would
    return unchanged for ``f`` (an ASCII str without NUL, an int in range, a bool, an aware UTC
    datetime, a listed enum value), and the constant it reads as ``c``; None for kinds without a
    shortcut (decimal, json). Generated write plans inline it: a value it rejects, ``None``
    included, takes the full check, with its normalization and its exact errors. (An aware UTC
    datetime is accepted as is because ``astimezone(utc)`` returns the same object.)"""
    kind = f.value_kind
    if kind == "string":
        limit = f" and len({v}) <= {f.max_length}" if f.max_length is not None else ""
        return f"type({v}) is str and {v}.isascii() and '\\x00' not in {v}{limit}", None
    if kind in ("integer", "bigint"):
        lo, hi = INT64 if kind == "bigint" or f.kind == "id" or f.column_kind == "bigint" else INT32
        return f"type({v}) is int and {lo} <= {v} <= {hi}", None
    if kind == "boolean":
        return f"type({v}) is bool", None
    if kind == "datetime":
        return f"type({v}) is {c}[0] and {v}.tzinfo is {c}[1]", (_dt.datetime, _UTC)
    if kind == "enum":
        return f"type({v}) is str and {v} in {c}", frozenset(f.enum_values or ())
    return None


# --------------------------------------------------------------------------------------------
# Time-ordered string ids (UUIDv7 text): index-friendly, sortable by creation time.

_uuid_lock = threading.Lock()
_last_ms = 0
_seq = 0


def uuid7() -> str:
    """A UUIDv7 string: 48-bit millisecond timestamp, a 12-bit counter within the millisecond, random tail."""
    global _last_ms, _seq
    with _uuid_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _seq += 1
            if _seq > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _seq = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _seq = int.from_bytes(os.urandom(2), "big") & 0x7FF  # leave room to count up
        seq = _seq
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def utc_now() -> _dt.datetime:
    """The current time, aware, in UTC."""
    return _dt.datetime.now(_dt.timezone.utc)


def normalize_decimal(value: Any) -> decimal.Decimal:
    """A read-back decimal without trailing fractional zeros (``12.50`` -> ``12.5``, ``19.00`` -> ``19``).

    Backends pad to their column scale (``numeric(65, 30)``), so every driver normalizes the same
    way and returns identical values; the number is unchanged (``Decimal("12.50") == Decimal("12.5")``).
    Two C calls in a 100-digit context (nothing rounds): ``normalize`` drops the zeros (``100`` becomes
    ``1E+2``), adding an exponent-0 zero brings integers back to exponent 0 and unsigns ``-0``
    (PostgreSQL and MySQL drop the sign of zero, so every backend does)."""
    d = value if value.__class__ is decimal.Decimal else decimal.Decimal(str(value))
    return _add(_normalize(d), _ZERO)


_normalize = _WIDE.normalize
_add = _WIDE.add
# a row builder writes the two C calls inline for a Decimal (what every SQL driver returns)
inline_decoder(normalize_decimal, "{ADD}({NORM}({v}), {ZERO}) if {v}.__class__ is {DEC} else {d}({v})",
               ADD=_add, NORM=_normalize, ZERO=_ZERO, DEC=decimal.Decimal)


def scaled_decimal(scale: int) -> Callable[[Any], decimal.Decimal]:
    """The read-back of a ``decimal(precision, scale)`` field where the backend does not keep the
    scale itself (SQLite text, Mongo Decimal128): exactly ``scale`` places (``12.5`` -> ``12.50``)."""
    exponent, quantize = _EXPONENTS[scale], _WIDE.quantize

    def read(value: Any) -> decimal.Decimal:
        return quantize(value if value.__class__ is decimal.Decimal else decimal.Decimal(str(value)), exponent)

    return read
