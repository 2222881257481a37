"""Keyset (cursor) pagination: the page order, opaque cursors and the "after this row" condition.

A cursor is base64url (no padding) of the msgspec-JSON list ``[fingerprint, [sort values...]]``.
The fingerprint is a short hash of the model name and the full page order, so a cursor made for
another model or another ``order_by`` is refused. Values are decoded back to their field's type
(datetime, Decimal, 64-bit int, ...) and validated like ``where`` values. A cursor is opaque, not
secret: it is not signed, and anybody may build one; it only ever positions a query the caller
could have written with ``where``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import decimal
import hashlib
import re
from typing import Any, Mapping

import msgspec

from ..core.errors import validation_error
from ..schema.manifest import ModelMeta
from . import nodes as n
from .parse import parse_order
from .values import check_value

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")

#: Python types cursor values are converted back to, per value kind
_TYPES: Mapping[str, type] = {
    "string": str, "enum": str, "integer": int, "bigint": int, "boolean": bool,
    "decimal": decimal.Decimal, "datetime": _dt.datetime,
}


def page_order(model: ModelMeta, order_by: Any) -> tuple[n.OrderItem, ...]:
    """``order_by`` plus the identity fields (ascending) as tie-breakers: a total order.

    Ordering by a nullable or JSON field is refused: a keyset cursor needs a non-null, comparable
    value for every key."""
    items = list(parse_order(model, order_by))
    named = {i.field for i in items}
    for name in model.identity or ():
        if name not in named:
            items.append(n.OrderItem(name, False))
    for item in items:
        f = model.fields[item.field]
        if f.value_kind == "json":
            raise validation_error(
                f'find_page on model "{model.name}" cannot order by JSON field "{f.name}".',
                model=model.name, field=f.name,
            )
        if f.nullable:
            raise validation_error(
                f'find_page on model "{model.name}" cannot order by nullable field "{f.name}": a keyset '
                "cursor needs a non-null value for every sort key. Order by a non-null field, or filter "
                "the NULLs out and page over a non-null copy of the field.",
                model=model.name, field=f.name,
            )
    return tuple(items)


def fingerprint(model: ModelMeta, order: tuple[n.OrderItem, ...]) -> str:
    """A short hash of the model and the page order (the cursor's shape)."""
    shape = model.name + "|" + ",".join(f"{o.field}:{'d' if o.desc else 'a'}" for o in order)
    return hashlib.blake2s(shape.encode(), digest_size=6).hexdigest()


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, decimal.Decimal) else value


def encode_cursor(model: ModelMeta, order: tuple[n.OrderItem, ...], record: Mapping[str, Any]) -> str:
    """The cursor positioned just after ``record`` in ``order``."""
    values = [_plain(record[o.field]) for o in order]
    raw = msgspec.json.encode([fingerprint(model, order), values])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _bad_cursor(model: ModelMeta, why: str) -> Exception:
    return validation_error(f'Invalid cursor for find_page on model "{model.name}": {why}', model=model.name)


def decode_cursor(model: ModelMeta, order: tuple[n.OrderItem, ...], cursor: Any) -> list[Any]:
    """The sort values a cursor holds, converted and validated; VALIDATION_ERROR when it is not ours."""
    if not isinstance(cursor, str) or not cursor:
        raise _bad_cursor(model, f"expected a non-empty string, got {type(cursor).__name__}.")
    try:
        if not _BASE64URL.fullmatch(cursor):
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _bad_cursor(model, "it is not base64url text.") from None
    try:
        shape, values = msgspec.json.decode(raw, type=tuple[str, list[Any]])
    except msgspec.DecodeError:
        raise _bad_cursor(model, "its content is not a farmorm cursor.") from None
    if shape != fingerprint(model, order) or len(values) != len(order):
        raise _bad_cursor(model, "it was made for another model or another order_by.")
    out: list[Any] = []
    for o, value in zip(order, values):
        f = model.fields[o.field]
        try:
            typed: Any = msgspec.convert(value, _TYPES[f.value_kind], strict=False)
        except msgspec.ValidationError:
            raise _bad_cursor(model, f'the value for "{f.name}" does not fit the field.') from None
        try:
            out.append(check_value(model, f, typed))
        except Exception:  # noqa: BLE001 - any refusal of the value is a bad cursor
            raise _bad_cursor(model, f'the value for "{f.name}" does not fit the field.') from None
    return out


def after_condition(order: tuple[n.OrderItem, ...], values: list[Any], params: list[Any], *,
                    before: bool = False, inclusive: bool = False) -> n.Condition:
    """Rows strictly after ``values`` in ``order``: ``(a > x) OR (a = x AND b > y) OR ...``.

    Each key compares with ``gt`` (ascending) or ``lt`` (descending); ``before`` flips them (rows
    strictly before the position), ``inclusive`` adds the position itself (all keys equal)."""
    slots = []
    for v in values:
        params.append(v)
        slots.append(n.Param(len(params) - 1))
    branches: list[n.Condition] = []
    for i, o in enumerate(order):
        parts: list[n.Condition] = [n.Compare(order[j].field, "eq", slots[j]) for j in range(i)]
        parts.append(n.Compare(o.field, "lt" if o.desc != before else "gt", slots[i]))
        branches.append(parts[0] if len(parts) == 1 else n.And(tuple(parts)))
    if inclusive:
        equal = [n.Compare(o.field, "eq", slots[j]) for j, o in enumerate(order)]
        branches.append(equal[0] if len(equal) == 1 else n.And(tuple(equal)))
    return branches[0] if len(branches) == 1 else n.Or(tuple(branches))


def reversed_order(order: tuple[n.OrderItem, ...]) -> tuple[n.OrderItem, ...]:
    """The page order backwards (``last`` / ``before`` read the rows nearest the cursor first)."""
    return tuple(n.OrderItem(o.field, not o.desc) for o in order)
