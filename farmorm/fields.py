"""Field builders, imported as ``from farmorm import fields as f``: ``f.string().unique()``."""

from .schema.fields import (  # noqa: F401
    FieldBuilder,
    bigint,
    boolean,
    datetime,
    decimal,
    enumeration,
    id,
    integer,
    json,
    numeric_id,
    string,
    version,
)

__all__ = [
    "FieldBuilder", "id", "numeric_id", "string", "boolean", "integer", "bigint", "decimal",
    "datetime", "json", "enumeration", "version",
]
