"""A compiled SQL statement: text, the param slots it binds, per-param encoders and row decoders."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from farmorm.core.driver import Compiled

Encoder = Callable[[Any], Any]

#: Marker an expanding IN list leaves in the SQL text; replaced by one placeholder per value.
EXPAND_MARK = "\x00IN{}\x00"


class SqlStatement(Compiled):
    """``sql`` with placeholders bound from ``params`` in ``slots`` order (a slot may repeat).

    ``kind`` tells the connection what to return: "rows" (a result set), "count" (rowcount) or
    "returning" (rows of a write). ``encoders`` convert the parsed Python values the way this
    dialect stores them; ``expand`` lists the params that are spliced as one placeholder per item
    (for drivers that cannot bind an array). ``columnar`` (a multi-row insert binding one array
    per column): the number of columns; the params come row by row and bind into that many
    arrays, param ``i`` of each row into array ``i``, and ``encoders`` are per column. ``row_width``
    (a ``VALUES`` insert, one placeholder per param in order): the number of columns; the params
    bind as they come, and ``encoders`` are per column, each run over its column's values at once.
    ``echo`` (an insert whose rows are the values it binds, see ``SqlDialect.echo``): a count
    statement whose result rows the connection builds from the params, per row the params at
    ``echo`` (positions within a row of ``row_width`` params), ``decoders`` turning them into
    what a read returns."""

    __slots__ = ("sql", "slots", "encoders", "columns", "decoders", "kind", "expand", "placeholder", "extra",
                 "columnar", "row_width", "echo")

    def __init__(
        self,
        sql: str,
        slots: Sequence[int],
        encoders: dict[int, Encoder],
        *,
        kind: str = "rows",
        columns: tuple[str, ...] = (),
        decoders: tuple[Encoder | None, ...] = (),
        expand: tuple[int, ...] = (),
        placeholder: str = "?",
        extra: Any = None,
        columnar: int = 0,
        row_width: int = 0,
    ) -> None:
        self.sql = sql
        self.slots = tuple(slots)
        self.encoders = tuple(encoders.items())
        self.kind = kind
        self.columns = columns
        self.decoders = decoders
        self.expand = expand
        self.placeholder = placeholder
        self.extra = extra  # dialect-specific data for multi-step writes (e.g. MySQL re-reads)
        self.columnar = columnar
        self.row_width = row_width
        self.echo: tuple[int, ...] = ()

    def echoed(self, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of an ``echo`` insert: each row's params at ``echo``."""
        width = self.row_width or self.columnar
        rows: list[tuple[Any, ...]] = list(zip(*[iter(params)] * width))  # each row's params, as a tuple
        if self.echo == tuple(range(width)):
            return rows
        picks = self.echo
        return [tuple([row[p] for p in picks]) for row in rows]

    def bind(self, params: Sequence[Any]) -> tuple[str, list[Any]]:
        """The SQL text and the argument list for ``params``."""
        if self.columnar:
            width = self.columnar
            arrays: list[Any] = [list(params[c::width]) for c in range(width)]
            for c, fn in self.encoders:
                arrays[c] = [None if v is None else fn(v) for v in arrays[c]]
            return self.sql, arrays
        if self.row_width:
            width = self.row_width
            values = list(params)
            if len(values) == width:  # one row
                for c, fn in self.encoders:
                    v = values[c]
                    if v is not None:
                        values[c] = fn(v)
                return self.sql, values
            for c, fn in self.encoders:
                values[c::width] = [None if v is None else fn(v) for v in values[c::width]]
            return self.sql, values
        if self.encoders:
            params = list(params)
            for i, fn in self.encoders:
                v = params[i]
                if v is not None:  # NULL binds as NULL whatever the field kind
                    params[i] = fn(v)
        if not self.expand:
            return self.sql, [params[i] for i in self.slots]
        sql = self.sql
        args: list[Any] = []
        for i in self.slots:
            if i in self.expand:
                values = params[i]
                sql = sql.replace(EXPAND_MARK.format(i), ", ".join([self.placeholder] * len(values)), 1)
                args.extend(values)
            else:
                args.append(params[i])
        return sql, args

    @property
    def statement(self) -> str:
        return self.sql

    def __repr__(self) -> str:
        return f"SqlStatement({self.sql!r}, slots={self.slots})"
