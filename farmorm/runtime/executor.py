"""Hydration plans: a compiled statement plus the function turning its rows into records.

Hydration works from a per-shape plan built once: the result column names and the few columns
that need a converter. A column that needs none costs nothing per row. The engine caches one
``Plan`` per node shape (``Engine.plan``) and runs it.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

from ..core.driver import Compiled, inline_form

Rows = Sequence[Sequence[Any]]
Decoders = Sequence[Callable[[Any], Any] | None]


def _columns(decoders: Decoders, env: dict[str, Any]) -> tuple[str, list[str]]:
    """The target a row unpacks into (``c0, c1, …``: cheaper than indexing it per column) and
    each column's value: its name where the column needs no conversion, else the decoder's
    inline form (``core.driver.inline_form``: the common case tested inline, a call otherwise)
    behind a NULL test. Rows are aligned with the statement's columns (``core.driver.Result``)."""
    values = []
    for i, fn in enumerate(decoders):
        v = f"c{i}"
        if fn is None:
            values.append(v)
        else:
            expr, names = inline_form(fn, v)
            env.update(names)
            values.append(f"(None if {v} is None else {expr})")
    target = ", ".join(f"c{i}" for i in range(len(decoders)))
    return (target + "," if len(decoders) == 1 else target) or "_", values


def _generate(src: str, env: dict[str, Any], what: str) -> Any:
    exec(compile(src, f"<farmorm {what}>", "exec"), env)  # noqa: S102 - trusted source, see the builders
    return env["build"]


def row_builder(names: Sequence[str], decoders: Decoders) -> Callable[[Rows], list[dict[str, Any]]]:
    """Generate, once per shape, a function turning rows into records.

    Each record is one dict display over the unpacked row, with a converter written in only
    where a column needs one, so an identity column costs nothing but its slot. The source is
    built from schema field names (validated identifiers, written with repr) and the drivers'
    own inline forms, never from user values."""
    env: dict[str, Any] = {}
    target, values = _columns(decoders, env)
    items = ", ".join(f"{name!r}: {value}" for name, value in zip(names, values))
    return _generate(f"def build(rows):\n    return [{{{items}}} for {target} in rows]\n", env,  # type: ignore[no-any-return]
                     "row builder")


def group_builder(names: Sequence[str], decoders: Decoders, key: str,
                  hidden: Sequence[str] = ()) -> Callable[[Rows], dict[Any, list[dict[str, Any]]]]:
    """Generate, once per (shape, key), a function turning the rows of a relation level into its
    records grouped by ``key`` (for ``query.plan.attach``), in one pass: the key is read from the
    row, not looked up in each record, and the ``hidden`` helper columns never enter a record."""
    env: dict[str, Any] = {}
    target, values = _columns(decoders, env)
    k = names.index(key)
    items = ", ".join(f"{name!r}: {'k' if i == k else value}"
                      for i, (name, value) in enumerate(zip(names, values)) if name not in hidden)
    src = ("def build(rows):\n"
           "    grouped = {}\n"
           "    get = grouped.get\n"
           f"    for {target} in rows:\n"
           f"        k = {values[k]}\n"
           "        group = get(k)\n"
           "        if group is None:\n"
           f"            grouped[k] = [{{{items}}}]\n"
           "        else:\n"
           f"            group.append({{{items}}})\n"
           "    return grouped\n")
    return _generate(src, env, "group builder")  # type: ignore[no-any-return]


def struct_builder(names: Sequence[str], decoders: Decoders, cls: type) -> Callable[[Rows], list[Any]]:
    """Generate, once per (shape, Struct class), a function turning rows into ``cls`` instances
    (``as_=``): the Struct is called with the row's columns, positionally in the Struct's field
    order as long as they line up, by keyword after a field the row does not carry (left to its
    default), so no intermediate dict is built. Names come from the schema and the Struct's own
    fields (checked against each other before any I/O by ``check_struct``), never from user values."""
    at = {name: i for i, name in enumerate(names)}
    env: dict[str, Any] = {"C": cls}
    target, values = _columns(decoders, env)
    args = []
    keywords = False
    for name, p in inspect.signature(cls).parameters.items():
        i = at.get(name)
        if i is None:
            keywords = True
            continue
        keywords = keywords or p.kind is p.KEYWORD_ONLY
        args.append(f"{name}={values[i]}" if keywords else values[i])
    return _generate(f"def build(rows):\n    return [C({', '.join(args)}) for {target} in rows]\n", env,  # type: ignore[no-any-return]
                     "struct builder")


class Plan:
    """A compiled statement plus its hydration functions."""

    __slots__ = ("compiled", "hydrate", "typed", "groups")

    def __init__(self, compiled: Compiled) -> None:
        self.compiled = compiled
        self.hydrate = row_builder(compiled.columns, compiled.decoders)
        self.typed: dict[type, Callable[[Rows], list[Any]]] | None = None
        self.groups: dict[tuple[str, tuple[str, ...]], Callable[[Rows], dict[Any, list[dict[str, Any]]]]] | None = None

    def hydrate_as(self, cls: type) -> Callable[[Rows], list[Any]]:
        """The row builder for Struct class ``cls`` (``as_=``), built on first use."""
        typed = self.typed
        if typed is None:
            typed = self.typed = {}
        build = typed.get(cls)
        if build is None:
            build = typed[cls] = struct_builder(self.compiled.columns, self.compiled.decoders, cls)
        return build

    def grouped(self, key: str, hidden: tuple[str, ...]) -> Callable[[Rows], dict[Any, list[dict[str, Any]]]]:
        """The group builder by ``key`` without the ``hidden`` columns (a relation level), built on first use."""
        groups = self.groups
        if groups is None:
            groups = self.groups = {}
        build = groups.get((key, hidden))
        if build is None:
            build = groups[(key, hidden)] = group_builder(self.compiled.columns, self.compiled.decoders, key, hidden)
        return build
