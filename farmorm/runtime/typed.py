"""``as_=``: reading rows straight into ``msgspec.Struct`` classes instead of dicts.

``aggregate`` / ``group_by`` take ``as_=`` too: their shaped results are converted to the Struct
(nested Structs for ``sum`` …), after a check of the result keys before any I/O.

The check runs before any I/O: the Struct must hold every field the query selects, and every
Struct field the query does not select needs a default. The rows are then turned into Structs
by a generated builder (``executor.struct_builder``), one call per row, no dict in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import msgspec
from typing_extensions import TypedDict  # Pydantic (FastAPI response models) takes these on Python 3.11

from ..core.driver import Connection
from ..core.errors import validation_error
from ..query.plan import Read
from ..schema.manifest import ModelMeta
from .engine import Engine

S = TypeVar("S", bound=msgspec.Struct)
T = TypeVar("T")


class PageInfo(TypedDict):
    """Where a page of ``find_page`` sits: ``end_cursor`` / ``start_cursor`` are its last / first
    record's cursors; pass ``next_cursor`` as ``after`` for the next page and ``prev_cursor`` as
    ``before`` for the previous one (each None when there is no such page). ``has_more`` is
    ``has_next_page`` (kept for forward-only callers)."""

    next_cursor: str | None
    has_more: bool
    prev_cursor: str | None
    start_cursor: str | None
    end_cursor: str | None
    has_next_page: bool
    has_previous_page: bool


class Page(TypedDict, Generic[T]):
    """``find_page``'s result: the page's records (dicts, or ``as_`` Structs) and where it sits."""

    items: list[T]
    page: PageInfo


def check_struct(model: ModelMeta, cls: Any, read: Read) -> type:
    """Validate ``as_=cls`` against the read's selection; returns ``cls`` (VALIDATION_ERROR otherwise)."""
    name = model.name
    if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
        raise validation_error(
            f'as_ on model "{name}" expects a msgspec.Struct class (e.g. schema.struct("{name}")), got {cls!r}.',
            model=name,
        )
    label = f'as_={cls.__name__} on model "{name}"'
    if read.relations or read.counts:
        rels = ", ".join(f'"{r}"' for r in [*(r.name for r in read.relations), *(["_count"] if read.counts else [])])
        raise validation_error(
            f"{label} reads scalar fields only; the query loads relations ({rels}). "
            "Drop them from select/include, or read dicts (no as_).",
            model=name,
        )
    fields = {fi.name: fi for fi in msgspec.structs.fields(cls)}
    selected = [c for c in read.node.columns if c not in read.hidden]
    for column in selected:
        if column not in fields:
            raise validation_error(
                f'{label}: the Struct has no field "{column}", which the query selects. '
                "Add the field to the Struct, or leave it out of select.",
                model=name, field=column,
            )
    chosen = set(selected)
    for fi in fields.values():
        if fi.name not in chosen and fi.required:
            what = "is not selected" if fi.name in model.fields else f'is not a field of model "{name}"'
            raise validation_error(
                f'{label}: the Struct\'s required field "{fi.name}" {what}. '
                "Select it, or give the Struct field a default.",
                model=name, field=fi.name,
            )
    return cls


def check_result_struct(model: ModelMeta, cls: Any, keys: Sequence[str], operation: str) -> type:
    """``aggregate`` / ``group_by`` with ``as_=cls``, before any I/O: ``cls`` is a Struct with a field
    for each result key (the group fields and the functions asked for), and no other required one."""
    name = model.name
    if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
        raise validation_error(f'as_ of {operation} on model "{name}" expects a msgspec.Struct class, got {cls!r}.',
                               model=name)
    fields = {fi.name: fi for fi in msgspec.structs.fields(cls)}
    label = f'as_={cls.__name__} of {operation} on model "{name}"'
    for key in keys:
        if key not in fields:
            raise validation_error(f'{label}: the Struct has no field "{key}", which the result holds.',
                                   model=name, field=key)
    for fi in fields.values():
        if fi.required and fi.name not in keys:
            raise validation_error(f'{label}: the Struct\'s required field "{fi.name}" is not in the result '
                                   f'({", ".join(keys)}).', model=name, field=fi.name)
    return cls


def convert_results(model: ModelMeta, cls: type[S], results: list[dict[str, Any]], operation: str) -> list[S]:
    """The shaped ``aggregate`` / ``group_by`` results as ``cls`` instances (nested Structs for the
    functions); a value the Struct cannot hold is a VALIDATION_ERROR naming where."""
    try:
        return [msgspec.convert(r, cls) for r in results]
    except msgspec.ValidationError as exc:
        raise validation_error(f'as_={cls.__name__} of {operation} on model "{model.name}" cannot hold the '
                               f"result: {exc}.", model=model.name) from exc


async def read_page_as(engine: Engine, conn: Connection, read: Read, cls: type, size: int,
                       backward: bool = False) -> tuple[list[Any], list[dict[str, Any]], bool]:
    """``find_page(as_=cls)``: the page's rows as Structs (in page order: a backward read is turned
    around), its first and last rows as dicts (the order keys its cursors are made of), and whether
    one more row was there."""
    plan = engine.plan(read.node)
    rows = list((await conn.run(plan.compiled, read.params)).rows)
    more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()
    edges = plan.hydrate([rows[0], rows[-1]]) if rows else []
    return plan.hydrate_as(cls)(rows), edges, more
