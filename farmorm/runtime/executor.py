"""Hydration plans: a compiled statement plus the function turning its rows into records.

Hydration works from a per-shape plan built once: the result column names and the few columns
that need a converter. A column that needs none costs nothing per row. The engine caches one
``Plan`` per node shape (``Engine.plan``) and runs it.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

from ..core.driver import Compiled


def row_builder(names: Sequence[str], decoders: Sequence[Callable[[Any], Any] | None]) -> Callable[[Sequence[Sequence[Any]]], list[dict[str, Any]]]:
    """Generate, once per shape, a function turning rows into records.

    Each record is one dict display with the converters inlined only where a column needs one,
    so an identity column costs a tuple index and nothing else. The source is built from schema
    field names (validated identifiers, written with repr) and never from user values."""
    env: dict[str, Any] = {}
    items = []
    for i, (name, fn) in enumerate(zip(names, decoders)):
        if fn is None:
            items.append(f"{name!r}: r[{i}]")
        else:
            env[f"d{i}"] = fn
            items.append(f"{name!r}: (None if r[{i}] is None else d{i}(r[{i}]))")
    src = f"def build(rows):\n    return [{{{', '.join(items)}}} for r in rows]\n"
    exec(compile(src, "<farmorm row builder>", "exec"), env)  # noqa: S102 - trusted source, see above
    return env["build"]  # type: ignore[no-any-return]


def struct_builder(names: Sequence[str], decoders: Sequence[Callable[[Any], Any] | None],
                   cls: type) -> Callable[[Sequence[Sequence[Any]]], list[Any]]:
    """Generate, once per (shape, Struct class), a function turning rows into ``cls`` instances
    (``as_=``): the Struct is called with the row's columns, positionally in the Struct's field
    order as long as they line up, by keyword after a field the row does not carry (left to its
    default), so no intermediate dict is built. Names come from the schema and the Struct's own
    fields (checked against each other before any I/O by ``check_struct``), never from user values."""

    at = {name: i for i, name in enumerate(names)}
    env: dict[str, Any] = {"C": cls}
    args = []
    keywords = False
    for name, p in inspect.signature(cls).parameters.items():
        i = at.get(name)
        if i is None:
            keywords = True
            continue
        keywords = keywords or p.kind is p.KEYWORD_ONLY
        fn = decoders[i]
        if fn is None:
            value = f"r[{i}]"
        else:
            env[f"d{i}"] = fn
            value = f"(None if r[{i}] is None else d{i}(r[{i}]))"
        args.append(f"{name}={value}" if keywords else value)
    src = f"def build(rows):\n    return [C({', '.join(args)}) for r in rows]\n"
    exec(compile(src, "<farmorm struct builder>", "exec"), env)  # noqa: S102 - trusted source, see above
    return env["build"]  # type: ignore[no-any-return]


class Plan:
    """A compiled statement plus its hydration function."""

    __slots__ = ("compiled", "hydrate", "typed")

    def __init__(self, compiled: Compiled) -> None:
        self.compiled = compiled
        self.hydrate = row_builder(compiled.columns, compiled.decoders)
        self.typed: dict[type, Callable[[Sequence[Sequence[Any]]], list[Any]]] | None = None

    def hydrate_as(self, cls: type) -> Callable[[Sequence[Sequence[Any]]], list[Any]]:
        """The row builder for Struct class ``cls`` (``as_=``), built on first use."""
        typed = self.typed
        if typed is None:
            typed = self.typed = {}
        build = typed.get(cls)
        if build is None:
            build = typed[cls] = struct_builder(self.compiled.columns, self.compiled.decoders, cls)
        return build
