"""Raw SQL text -> a ``Raw`` node: ``$n`` placeholders and ``{model}`` / ``{model.field}`` names.

The text is scanned once, outside string literals, quoted identifiers, comments and PostgreSQL
dollar-quoted bodies: ``$1`` becomes ``Param(0)`` (each dialect writes its own placeholder), and
``{user}`` / ``{user.email}`` become the model's table / the field's column, checked against the
schema here and quoted by the dialect, so a name is never formatted into SQL by hand. Values are
only ever bound parameters.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from ..core.errors import validation_error
from ..schema.manifest import Schema
from . import nodes as n

_PARAM = re.compile(r"\$(\d+)")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")
_NAME = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?\}")
_WORD = re.compile(r"[A-Za-z0-9_$]")


def _skip_quoted(sql: str, i: int, quote: str) -> int:
    """The index after the literal / quoted name opening at ``i`` (a doubled quote escapes it)."""
    j = i + 1
    while True:
        k = sql.find(quote, j)
        if k < 0:
            return len(sql)
        if sql.startswith(quote * 2, k):
            j = k + 2
            continue
        return k + 1


def split_sql(sql: str) -> tuple[list[str | n.Param | n.RawIdent], int]:
    """The text's parts and the highest placeholder number (0: none)."""
    parts: list[str | n.Param | n.RawIdent] = []
    buf: list[str] = []
    top = 0
    i, size = 0, len(sql)
    while i < size:
        c = sql[i]
        j = i + 1
        if c in "'\"`":
            j = _skip_quoted(sql, i, c)
        elif sql.startswith("--", i):
            k = sql.find("\n", i)
            j = size if k < 0 else k + 1
        elif sql.startswith("/*", i):
            k = sql.find("*/", i + 2)
            j = size if k < 0 else k + 2
        elif c == "$" and not (i and _WORD.match(sql[i - 1])):
            m = _PARAM.match(sql, i)
            if m is not None:
                if buf:
                    parts.append("".join(buf))
                    buf = []
                number = int(m.group(1))
                if number < 1:
                    raise validation_error(f"Raw SQL placeholders count from $1, got ${number}.")
                parts.append(n.Param(number - 1))
                top = max(top, number)
                i = m.end()
                continue
            tag = _DOLLAR_TAG.match(sql, i)
            if tag is not None:  # $$ … $$ / $body$ … $body$: copied as is
                k = sql.find(tag.group(0), tag.end())
                j = size if k < 0 else k + len(tag.group(0))
        elif c == "{":
            m = _NAME.match(sql, i)
            if m is not None:
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(n.RawIdent(m.group(1), m.group(2)))
                i = m.end()
                continue
        buf.append(sql[i:j])
        i = j
    if buf:
        parts.append("".join(buf))
    return parts, top


def parse_raw(schema: Schema, sql: Any, args: Sequence[Any], *, fetch: bool) -> tuple[n.Raw, list[Any]]:
    """Check raw SQL and its arguments before any I/O; returns the node and its params."""
    if not isinstance(sql, str) or not sql.strip():
        raise validation_error(f"Raw SQL must be a non-empty str, got {sql!r}.")
    parts, top = split_sql(sql)
    used = {p.index for p in parts if isinstance(p, n.Param)}
    if top != len(args) or len(used) != top:
        missing = sorted(set(range(1, top + 1)) - {i + 1 for i in used})
        hint = f" (${', $'.join(map(str, missing))} unused)" if missing else ""
        raise validation_error(
            f"Raw SQL uses placeholders $1..${top}{hint} but got {len(args)} argument(s): pass one "
            "argument per placeholder number (values are always bound, never spliced into the text).")
    for p in parts:
        if isinstance(p, n.RawIdent):
            model = schema.models.get(p.model)
            if model is None:
                raise validation_error(f'Unknown model "{p.model}" in raw SQL {{{p.model}}}.', model=p.model)
            if p.field is not None and p.field not in model.fields:
                raise validation_error(f'Unknown field "{p.field}" on model "{p.model}".', model=p.model,
                                       field=p.field)
    return n.Raw(tuple(parts), fetch), list(args)
