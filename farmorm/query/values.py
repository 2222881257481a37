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
    return check_text(model, f, v)


def _check_bool(model: ModelMeta, f: FieldMeta, v: Any) -> Any:
    if not isinstance(v, bool):
        raise _bad(model, f, "bool", v)
    return v


#: decimal columns are numeric(65, 30) on the SQL servers: 35 integer and 30 fractional digits
DECIMAL_INTEGER_DIGITS = 35
DECIMAL_FRACTION_DIGITS = 30


def _decimal_in_range(model: ModelMeta, f: FieldMeta, v: decimal.Decimal) -> decimal.Decimal:
    _, digits, exp = v.as_tuple()
    assert isinstance(exp, int)
    fraction = -exp if exp < 0 else 0
    integer = max(0, len(digits) + exp) if any(digits) else 0
    if fraction > DECIMAL_FRACTION_DIGITS:
        # trailing zeros beyond the scale carry no value: keep the number, drop them
        trimmed = normalize_decimal(v)
        _, _, texp = trimmed.as_tuple()
        assert isinstance(texp, int)
        if -texp <= DECIMAL_FRACTION_DIGITS:
            return trimmed
    if fraction > DECIMAL_FRACTION_DIGITS or integer > DECIMAL_INTEGER_DIGITS:
        raise validation_error(
            f'Invalid value for field "{f.name}" on model "{model.name}": decimal {v} does not fit '
            f"{DECIMAL_INTEGER_DIGITS} integer and {DECIMAL_FRACTION_DIGITS} fractional digits.",
            model=model.name,
            field=f.name,
        )
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
    return v


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
    """Validate a value being written: ``None`` only for nullable fields."""
    if value is None:
        if f.nullable:
            return None
        raise validation_error(
            f'Field "{f.name}" on model "{model.name}" cannot be null.', model=model.name, field=f.name
        )
    return check_value(model, f, value)


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
    way and returns identical values; the number is unchanged (``Decimal("12.50") == Decimal("12.5")``)."""
    d = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
    # work on the digit tuple: Decimal.normalize()/quantize() would round to the context precision
    sign, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    if exp > 0:
        return decimal.Decimal((sign, tuple(digits) + (0,) * exp, 0))
    digits = tuple(digits)
    while exp < 0 and len(digits) > 1 and digits[-1] == 0:
        digits = digits[:-1]
        exp += 1
    if not any(digits):  # zero, unsigned: PostgreSQL and MySQL drop the sign of -0, so every backend does
        return decimal.Decimal((0, (0,), 0)) if exp < 0 else decimal.Decimal((0, digits, exp))
    return decimal.Decimal((sign, digits, exp))
