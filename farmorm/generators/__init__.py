"""Schema generators: safe SQL, Prisma and Drizzle text, SQLAlchemy metadata, generated blocks.

The text renderers need nothing beyond farmorm; ``to_sqlalchemy_metadata`` imports SQLAlchemy
(an optional dependency, ``farmorm[migrations]``) only when it is called.
"""

from __future__ import annotations

from typing import Any

from .blocks import replace_generated_block
from .drizzle import render_drizzle_schema
from .prisma import render_prisma_schema
from .sql import render_safe_sql


def to_sqlalchemy_metadata(schema: Any, **kw: Any) -> Any:
    """A SQLAlchemy ``MetaData`` of the tables ``push_schema`` creates (imports SQLAlchemy lazily)."""
    # lazy on purpose: SQLAlchemy is an optional dependency (the ``migrations`` extra), and
    # ``import farmorm.generators`` must work without it for the text renderers
    from .sqlalchemy import to_sqlalchemy_metadata as impl

    return impl(schema, **kw)


__all__ = [
    "render_safe_sql",
    "render_prisma_schema",
    "render_drizzle_schema",
    "replace_generated_block",
    "to_sqlalchemy_metadata",
]
