"""Field builders (``farmorm.fields``, imported as ``f``): immutable, each modifier returns a copy."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, Sequence

from ..core.errors import SchemaError

ReferentialAction = Literal["cascade", "set null", "restrict", "no action"]
#: what a foreign key does when the referenced row is deleted / its key updated
REFERENTIAL_ACTIONS: tuple[str, ...] = ("cascade", "set null", "restrict", "no action")

FieldKind = Literal[
    "id", "string", "boolean", "integer", "bigint", "decimal", "datetime", "json", "enum"
]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclass(frozen=True)
class FieldBuilder:
    """One field of a model: its kind and modifiers. Build with ``f.string()``, ``f.id()``, …"""

    kind: FieldKind
    id_type: Literal["string", "integer"] | None = None
    generated: Literal["id", "increment", "now", "version"] | None = None
    is_nullable: bool = False
    is_unique: bool = False
    default_value: Any = MISSING
    reference: str | None = None
    column: str | None = None
    description: str | None = None
    enum_values: tuple[str, ...] | None = None
    precision: int | None = None  # decimal(precision, scale): total and fractional digits
    scale: int | None = None
    max_length: int | None = None  # string(max_length=): characters, checked on write
    on_delete: ReferentialAction | None = None  # references(..., on_delete=, on_update=)
    on_update: ReferentialAction | None = None

    def unique(self) -> FieldBuilder:
        """Mark the field unique on its own (a single-column unique key)."""
        return dataclasses.replace(self, is_unique=True)

    def nullable(self) -> FieldBuilder:
        """Allow ``None`` for the field."""
        return dataclasses.replace(self, is_nullable=True)

    def default(self, value: Any) -> FieldBuilder:
        """Use ``value`` when a create omits the field (a callable is called per create)."""
        return dataclasses.replace(self, default_value=value)

    def default_now(self) -> FieldBuilder:
        """Fill the current UTC time on create (only on create, never on update)."""
        if self.kind != "datetime":
            raise SchemaError("default_now() applies to datetime fields only.")
        return dataclasses.replace(self, generated="now")

    def references(self, target: str, *, on_delete: ReferentialAction | None = None,
                   on_update: ReferentialAction | None = None) -> FieldBuilder:
        """Declare a foreign key to ``"model.field"``; relations use it to pick join columns.

        ``on_delete`` / ``on_update``: ``"cascade"``, ``"set null"`` (the field must be nullable),
        ``"restrict"`` or ``"no action"`` (the database's default when omitted)."""
        if not isinstance(target, str) or target.count(".") != 1 or not all(target.split(".")):
            raise SchemaError(
                f'references() expects "model.field", got {target!r}.'
            )
        for label, action in (("on_delete", on_delete), ("on_update", on_update)):
            if action is not None and action not in REFERENTIAL_ACTIONS:
                raise SchemaError(
                    f'references() {label} must be "cascade", "set null", "restrict" or "no action", got {action!r}.'
                )
        return dataclasses.replace(self, reference=target, on_delete=on_delete, on_update=on_update)

    def map(self, column: str) -> FieldBuilder:
        """Store the field in physical column ``column``; the API keeps the logical name."""
        if not isinstance(column, str) or not column.strip():
            raise SchemaError("map() requires a non-empty column name.")
        return dataclasses.replace(self, column=column.strip())

    def describe(self, text: str) -> FieldBuilder:
        """Attach a description (kept in the manifest and generators)."""
        return dataclasses.replace(self, description=text)


def id(  # noqa: A001 - the builder is reached as f.id(); it never shadows the builtin in user code
    *,
    type: Literal["string", "integer"] = "string",  # noqa: A002
    generated: Literal["increment"] | None = None,
) -> FieldBuilder:
    """The model's identity: a client-generated time-ordered UUID string, or an integer id."""
    if type == "string":
        if generated is not None:
            raise SchemaError('id(type="string") ids are generated client-side; drop generated=.')
        return FieldBuilder("id", id_type="string", generated="id", is_unique=True)
    if type == "integer":
        if generated not in (None, "increment"):
            raise SchemaError(f'id() generated must be "increment" or None, got {generated!r}.')
        return FieldBuilder("id", id_type="integer", generated=generated, is_unique=True)
    raise SchemaError(f'id() type must be "string" or "integer", got {type!r}.')


def numeric_id(*, generated: Literal["increment"] | None = None) -> FieldBuilder:
    """An integer id: manual, or generated by the database with ``generated="increment"``."""
    return id(type="integer", generated=generated)


def string(*, max_length: int | None = None) -> FieldBuilder:
    """A text field (``str``); ``max_length`` caps it in characters (``varchar(n)``, checked on write)."""
    if max_length is not None and (not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1):
        raise SchemaError(f"string() max_length must be a positive integer, got {max_length!r}.")
    return FieldBuilder("string", max_length=max_length)


def boolean() -> FieldBuilder:
    """A ``bool`` field."""
    return FieldBuilder("boolean")


def integer() -> FieldBuilder:
    """A 32-bit ``int`` field."""
    return FieldBuilder("integer")


def bigint() -> FieldBuilder:
    """A 64-bit ``int`` field."""
    return FieldBuilder("bigint")


#: the widest SQL decimal every backend holds (MySQL's DECIMAL limits: 65 digits, 30 after the point)
MAX_DECIMAL_PRECISION = 65
MAX_DECIMAL_SCALE = 30


def decimal(precision: int | None = None, scale: int | None = None) -> FieldBuilder:
    """An exact ``decimal.Decimal`` field: ``decimal(10, 2)`` is ``numeric(10, 2)``, read back with
    exactly 2 places (``12.50``); without arguments ``numeric(65, 30)``, read back normalized."""
    for label, value in (("precision", precision), ("scale", scale)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise SchemaError(f"decimal() {label} must be an integer, got {value!r}.")
    if precision is None:
        if scale is not None:
            raise SchemaError("decimal() scale needs a precision: decimal(precision, scale).")
        return FieldBuilder("decimal")
    if not 1 <= precision <= MAX_DECIMAL_PRECISION:
        raise SchemaError(f"decimal() precision must be between 1 and {MAX_DECIMAL_PRECISION}, got {precision}.")
    scale = 0 if scale is None else scale
    if not 0 <= scale <= min(precision, MAX_DECIMAL_SCALE):
        raise SchemaError(
            f"decimal() scale must be between 0 and {min(precision, MAX_DECIMAL_SCALE)} "
            f"(at most the precision {precision}), got {scale}."
        )
    return FieldBuilder("decimal", precision=precision, scale=scale)


def datetime() -> FieldBuilder:
    """A timezone-aware UTC ``datetime`` field (naive values are refused)."""
    return FieldBuilder("datetime")


def json() -> FieldBuilder:
    """A JSON field holding any JSON-compatible Python value (encoded with msgspec)."""
    return FieldBuilder("json")


def version() -> FieldBuilder:
    """An optimistic-concurrency counter: 1 on create, +1 on every update, never written in data."""
    return FieldBuilder("integer", generated="version", default_value=1)


def enumeration(values: Sequence[str]) -> FieldBuilder:
    """A ``str`` field restricted to ``values`` (checked on write)."""
    items = tuple(values)
    if not items or any(not isinstance(v, str) or not v for v in items):
        raise SchemaError("enumeration() values must be non-empty strings.")
    if len(set(items)) != len(items):
        raise SchemaError("enumeration() values must be unique.")
    return FieldBuilder("enum", enum_values=items)


__all__ = [
    "FieldBuilder",
    "MISSING",
    "id",
    "numeric_id",
    "string",
    "boolean",
    "integer",
    "bigint",
    "decimal",
    "datetime",
    "json",
    "enumeration",
    "version",
]
