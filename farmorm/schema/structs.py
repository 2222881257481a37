"""Struct classes of the schema's models: ``schema.struct(name)`` builds them (``as_=`` reads into them).

One field per scalar field of the model, in schema order, every one required; nullable fields are
``T | None``; relations are left out (a Struct is what ``as_=`` builds from one row). Python types
per field kind: id → ``str`` (``int`` for integer ids), string → ``str``, boolean → ``bool``,
integer / bigint → ``int``, decimal → ``decimal.Decimal``, datetime → ``datetime.datetime`` (aware
UTC), json → ``Any``, enumeration → ``Literal[...]`` of its values.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any, Literal, Optional

import msgspec

from .meta import FieldMeta, ModelMeta

_RUNTIME: dict[str, Any] = {
    "string": str, "boolean": bool, "integer": int, "bigint": int,
    "decimal": decimal.Decimal, "datetime": datetime.datetime, "json": Any,
}
def class_name(model_name: str) -> str:
    """``post_tag`` -> ``PostTag``: the Struct's class name for a model."""
    return "".join(part[:1].upper() + part[1:] for part in model_name.split("_") if part) or model_name


def field_type(f: FieldMeta) -> Any:
    """The Python type of field ``f`` as a runtime annotation (``Optional`` when nullable)."""
    kind = f.value_kind
    if kind == "enum":
        base: Any = Literal.__getitem__(tuple(f.enum_values or ()))
    else:
        base = _RUNTIME[kind]
    return Optional[base] if f.nullable else base  # noqa: UP007 - a runtime type object, not an annotation


def model_doc(model: ModelMeta) -> str:
    return model.description or f'Record of model "{model.name}" (table "{model.qualified_table}").'


def make_struct(model: ModelMeta) -> type[msgspec.Struct]:
    """A new ``msgspec.Struct`` class with the model's scalar fields (use ``schema.struct``: it caches)."""
    fields = [(f.name, field_type(f)) for f in model.fields.values()]
    cls: type[msgspec.Struct] = msgspec.defstruct(class_name(model.name), fields, module="farmorm.structs")
    cls.__doc__ = model_doc(model)
    return cls
