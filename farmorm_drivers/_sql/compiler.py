"""Nodes -> SQL text, param slots, encoders and decoders, for any ``SqlDialect``.

Pure and synchronous: the core caches the result per node, so none of this runs on a repeated
query shape.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from farmorm.query import nodes as n
from farmorm.query.aggregate import ref_fields, ref_model
from farmorm.query.plan import COUNT_PREFIX, LINK_COLUMN
from farmorm.schema.manifest import FieldMeta, ModelMeta, RelationMeta, Schema

from .dialect import Fn, SqlDialect
from .statement import EXPAND_MARK, SqlStatement


def _visible(fields: tuple[str, ...]) -> n.Condition | None:
    """``f IS NULL`` for each hiding field (soft delete / archive), or None."""
    if not fields:
        return None
    items = tuple(n.IsNull(f) for f in fields)
    return items[0] if len(items) == 1 else n.And(items)


def _lowered(enc: Fn | None) -> Fn:
    """A list encoder that lower-cases the items first (mode="insensitive" IN lists)."""
    if enc is None:
        return lambda values: [v.lower() for v in values]
    return lambda values: enc([v.lower() for v in values])


class _Ctx:
    """Collects placeholders in text order, encoders per param and expanding params."""

    __slots__ = ("dialect", "slots", "numbers", "encoders", "expand", "aliases")

    def __init__(self, dialect: SqlDialect) -> None:
        self.dialect = dialect
        self.slots: list[int] = []
        self.numbers: dict[int, int] = {}
        self.encoders: dict[int, Fn] = {}
        self.expand: list[int] = []
        self.aliases = 0

    def ph(self, param: n.Param, encoder: Fn | None = None) -> str:
        i = param.index
        if encoder is not None:
            self.encoders[i] = encoder
        if self.dialect.placeholder_style == "numeric":
            if i not in self.numbers:
                self.numbers[i] = len(self.numbers) + 1
                self.slots.append(i)
            return self.dialect.placeholder(self.numbers[i])
        self.slots.append(i)
        return self.dialect.placeholder(len(self.slots))

    def expanding(self, param: n.Param, encoder: Fn | None) -> str:
        if encoder is not None:
            self.encoders[param.index] = encoder
        if self.dialect.placeholder_style == "numeric":
            raise TypeError(  # $n numbering cannot survive splicing: bind the list as one array
                f"{type(self.dialect).__name__} uses numeric placeholders; its in_list() must not expand"
            )
        self.slots.append(param.index)
        self.expand.append(param.index)
        return EXPAND_MARK.format(param.index)

    def alias(self) -> str:
        self.aliases += 1
        return f"t{self.aliases}"

    def statement(self, sql: str, **kw: Any) -> SqlStatement:
        return SqlStatement(
            sql, self.slots, self.encoders, expand=tuple(self.expand),
            placeholder=self.dialect.placeholder(1) if self.dialect.placeholder_style != "numeric" else "",
            **kw,
        )


class SqlCompiler:
    """Compiles statement nodes for one schema and dialect."""

    def __init__(self, schema: Schema, dialect: SqlDialect) -> None:
        self.schema = schema
        self.d = dialect

    # -- helpers ---------------------------------------------------------------------------
    def col(self, qual: str, model: ModelMeta, field: str) -> str:
        if not qual:  # a group row's pseudo-field (``having``): its column is already an expression
            return model.fields[field].column
        return f"{qual}.{self.d.quote(model.fields[field].column)}"

    def decoders(self, model: ModelMeta, columns: tuple[str, ...]) -> tuple[Fn | None, ...]:
        return tuple(
            None if c == LINK_COLUMN else self.d.decoder(model.fields[c]) for c in columns
        )

    def link_decoder(self, model: ModelMeta, field: str) -> Fn | None:
        return self.d.decoder(model.fields[field])

    def compile(self, node: n.Statement) -> SqlStatement:
        method = getattr(self, "_" + type(node).__name__.lower())
        return method(node)  # type: ignore[no-any-return]

    # -- conditions ------------------------------------------------------------------------
    def cond(self, ctx: _Ctx, model: ModelMeta, qual: str, c: n.Condition) -> str:
        d = self.d
        if isinstance(c, n.Compare):
            f = model.fields[c.field]
            expr = d.comparable(self.col(qual, model, c.field), f)
            ph = d.comparable(d.value_sql(ctx.ph(c.value, d.encoder(f)), f), f)
            if c.insensitive:
                expr, ph = d.fold(expr), d.fold(ph)
            op = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[c.op]
            return f"{expr} {op} {ph}"
        if isinstance(c, n.IsNull):
            return f"{self.col(qual, model, c.field)} IS {'NOT ' if c.negated else ''}NULL"
        if isinstance(c, n.InList):
            f = model.fields[c.field]
            expr = d.comparable(self.col(qual, model, c.field), f)
            enc = d.list_encoder(f)
            if c.insensitive:
                probe, expands, fold_values = d.folded_in_list(expr, "\x00PH\x00", c.negated)
                if fold_values:
                    enc = _lowered(enc)
            else:
                probe, expands = d.in_list(expr, "\x00PH\x00", c.negated)
            if expands:
                ph = ctx.expanding(c.values, enc)
            else:
                ph = d.value_sql(ctx.ph(c.values, enc), f, array=True)
            return probe.replace("\x00PH\x00", ph)
        if isinstance(c, n.Match):
            sql, transform = d.match(self.col(qual, model, c.field), c.kind, "\x00PH\x00", c.insensitive)
            return sql.replace("\x00PH\x00", ctx.ph(c.value, transform))
        if isinstance(c, n.JsonEquals):
            return d.json_equals(self.col(qual, model, c.field), ctx.ph(c.value, d.json_encoder()), c.negated)
        if isinstance(c, n.Const):
            return d.true() if c.value else d.false()
        if isinstance(c, (n.And, n.Or)):
            return self.chain(ctx, model, qual, " AND " if isinstance(c, n.And) else " OR ", c.items)
        if isinstance(c, n.Not):
            return f"NOT ({self.cond(ctx, model, qual, c.item)})"
        if isinstance(c, n.RelationFilter):
            return self.relation_filter(ctx, model, qual, c)
        raise TypeError(f"unknown condition node {c!r}")

    #: AND / OR chains longer than this are grouped into a balanced tree: SQLite refuses expression
    #: trees deeper than 1000 (a flat chain of 1000 ORs), and every server's parser recurses on them
    CHAIN = 64

    def chain(self, ctx: _Ctx, model: ModelMeta, qual: str, op: str, items: tuple[n.Condition, ...]) -> str:
        if len(items) <= self.CHAIN:
            return op.join(f"({self.cond(ctx, model, qual, i)})" for i in items)
        size = -(-len(items) // self.CHAIN)  # placeholders stay in text order: groups are contiguous
        return op.join(f"({self.chain(ctx, model, qual, op, items[k:k + size])})" for k in range(0, len(items), size))

    def relation_filter(self, ctx: _Ctx, model: ModelMeta, qual: str, c: n.RelationFilter) -> str:
        rel = model.relations[c.relation]
        target = self.schema.models[rel.target]
        t = ctx.alias()
        local = self.col(qual, model, rel.local_field)
        if rel.kind == "many_to_many":
            through = self.schema.models[rel.through]  # type: ignore[index]
            j = ctx.alias()
            source = (
                f"{self.d.table(through)} {j} JOIN {self.d.table(target)} {t} "
                f"ON {self.col(t, target, rel.remote_field)} = {self.col(j, through, rel.through_to)}"  # type: ignore[arg-type]
            )
            link = f"{self.col(j, through, rel.through_from)} = {local}"  # type: ignore[arg-type]
        else:
            source = f"{self.d.table(target)} {t}"
            link = f"{self.col(t, target, rel.remote_field)} = {local}"
        inner = self.cond(ctx, target, t, c.where) if c.where is not None else None
        if c.kind == "every":
            if inner is None:
                return self.d.true()
            # a row whose condition is NULL does not satisfy "every"
            return f"NOT EXISTS (SELECT 1 FROM {source} WHERE {link} AND (CASE WHEN {inner} THEN 1 ELSE 0 END) = 0)"
        body = f"SELECT 1 FROM {source} WHERE {link}" + (f" AND ({inner})" if inner else "")
        negate = c.kind in ("none", "is_not")
        return f"{'NOT ' if negate else ''}EXISTS ({body})"

    # -- ordering --------------------------------------------------------------------------
    def order_item(self, ctx: _Ctx, model: ModelMeta, qual: str, o: n.OrderItem) -> str:
        """An ORDER BY key with its direction and NULL placement. A column that cannot be NULL has
        none to place: its key is the plain direction, so an index on it can give the order
        (PostgreSQL's btree serves ``id ASC`` but not ``id ASC NULLS FIRST``)."""
        if not o.path and not o.count and not model.fields[o.field].nullable:
            return f"{self.order_value(ctx, model, qual, o)} {'DESC' if o.desc else 'ASC'}"
        return self.d.order(self.order_value(ctx, model, qual, o), o.desc, o.nulls)

    def order_value(self, ctx: _Ctx, model: ModelMeta, qual: str, o: n.OrderItem) -> str:
        """What an ORDER BY key sorts on; through relations a correlated scalar subquery per
        relation hop (a to-one hop never multiplies rows, and a missing record gives NULL)."""
        if not o.path:
            return self.d.comparable(self.col(qual, model, o.field), model.fields[o.field])
        return self.path_value(ctx, model, qual, o.path, o, o.hidden)

    def path_value(self, ctx: _Ctx, model: ModelMeta, qual: str, path: tuple[str, ...], o: n.OrderItem,
                   hidden: tuple[tuple[str, ...], ...]) -> str:
        rel = model.relations[path[0]]
        target = self.schema.models[rel.target]
        gone = hidden[0] if hidden else ()
        visible = _visible(gone)
        t = ctx.alias()
        if o.count and len(path) == 1:
            return f"({self.relation_count(ctx, model, qual, rel, visible)})"
        if len(path) == 1:
            value = self.d.comparable(self.col(t, target, o.field), target.fields[o.field])
        else:
            value = self.path_value(ctx, target, t, path[1:], o, hidden[1:])
        link = f"{self.col(t, target, rel.remote_field)} = {self.col(qual, model, rel.local_field)}"
        if visible is not None:
            link += f" AND {self.cond(ctx, target, t, visible)}"
        return f"(SELECT {value} FROM {self.d.table(target)} {t} WHERE {link}{self.d.limit('1', None)})"

    def relation_count(self, ctx: _Ctx, model: ModelMeta, qual: str, rel: RelationMeta,
                       where: n.Condition | None) -> str:
        """``SELECT COUNT(*)`` of the records ``rel`` links to the row ``qual`` (matching ``where``)."""
        target = self.schema.models[rel.target]
        t = ctx.alias()
        local = self.col(qual, model, rel.local_field)
        if rel.kind == "many_to_many":
            through = self.schema.models[rel.through]  # type: ignore[index]
            j = ctx.alias()
            link = f"{self.col(j, through, rel.through_from)} = {local}"  # type: ignore[arg-type]
            if where is None:
                return f"SELECT COUNT(*) FROM {self.d.table(through)} {j} WHERE {link}"
            source = (f"{self.d.table(through)} {j} JOIN {self.d.table(target)} {t} "
                      f"ON {self.col(t, target, rel.remote_field)} = {self.col(j, through, rel.through_to)}")  # type: ignore[arg-type]
        else:
            source = f"{self.d.table(target)} {t}"
            link = f"{self.col(t, target, rel.remote_field)} = {local}"
        inner = f" AND ({self.cond(ctx, target, t, where)})" if where is not None else ""
        return f"SELECT COUNT(*) FROM {source} WHERE {link}{inner}"

    def where(self, ctx: _Ctx, model: ModelMeta, qual: str, c: n.Condition | None, extra: list[str] | None = None) -> str:
        parts = list(extra or [])
        if c is not None:
            parts.append(self.cond(ctx, model, qual, c) if not parts else f"({self.cond(ctx, model, qual, c)})")
        return f" WHERE {' AND '.join(parts)}" if parts else ""

    # -- reads -----------------------------------------------------------------------------
    def _select(self, node: n.Select) -> SqlStatement:
        d = self.d
        model = self.schema.models[node.model]
        ctx = _Ctx(d)
        q = "t0"
        cols = [self.col(q, model, c) for c in node.columns]
        source = f"{d.table(model)} {q}"
        extra: list[str] = []
        out_columns = node.columns
        decoders = self.decoders(model, node.columns)
        if node.counts:  # before the WHERE: their placeholders come first in the text
            for rc in node.counts:
                cols.append(f"({self.relation_count(ctx, model, q, model.relations[rc.relation], rc.where)})")
            out_columns = out_columns + tuple(COUNT_PREFIX + rc.relation for rc in node.counts)
            decoders = decoders + (int,) * len(node.counts)
        partition = None
        link = node.link
        if link is not None:
            if link.through is not None:
                through = self.schema.models[link.through]
                j = "j0"
                source += (
                    f" JOIN {d.table(through)} {j} ON {self.col(j, through, link.to_field)}"  # type: ignore[arg-type]
                    f" = {self.col(q, model, link.field)}"
                )
                key = self.col(j, through, link.from_field)  # type: ignore[arg-type]
                key_field = through.fields[link.from_field]  # type: ignore[index]
                cols.append(key)
                out_columns = out_columns + (LINK_COLUMN,)
                decoders = decoders + (d.decoder(key_field),)
            else:
                key = self.col(q, model, link.field)
                key_field = model.fields[link.field]
            probe, expands = d.in_list(d.comparable(key, key_field), "\x00PH\x00", False)
            enc = d.list_encoder(key_field)
            ph = ctx.expanding(link.keys, enc) if expands else ctx.ph(link.keys, enc)
            extra.append(probe.replace("\x00PH\x00", ph))
            if link.per_parent:
                partition = key
        where = self.where(ctx, model, q, node.where, extra)
        order = [self.order_item(ctx, model, q, o) for o in node.order_by]
        if node.distinct and partition is None:
            sql = self.distinct(ctx, model, node, cols, source, where, order)
        elif partition is None:
            sql = f"SELECT {', '.join(cols)} FROM {source}{where}"
            if order:
                sql += " ORDER BY " + ", ".join(order)
            take = ctx.ph(node.take) if node.take is not None else None
            skip = ctx.ph(node.skip) if node.skip is not None else None
            sql += d.limit(take, skip)
            if node.lock is not None:
                sql += d.lock_clause(node.lock)
        else:
            # take/skip per parent: number the rows of each parent key, keep the wanted window
            aliased = [f"{c} AS c{i}" for i, c in enumerate(cols)]
            over = f"PARTITION BY {partition}" + (f" ORDER BY {', '.join(order)}" if order else "")
            inner = f"SELECT {', '.join(aliased)}, ROW_NUMBER() OVER ({over}) AS rn FROM {source}{where}"
            bounds = []
            if node.skip is not None:
                bounds.append(f"w.rn > {ctx.ph(node.skip)}")
            if node.take is not None:
                upper = ctx.ph(node.take) if node.skip is None else \
                    f"{d.int_param(ctx.ph(node.skip))} + {d.int_param(ctx.ph(node.take))}"
                bounds.append(f"w.rn <= {upper}")
            outer_cols = ", ".join(f"w.c{i}" for i in range(len(cols)))
            sql = f"SELECT {outer_cols} FROM ({inner}) w WHERE {' AND '.join(bounds)} ORDER BY w.c{len(cols) - 1 if link and link.through else cols.index(partition)}, w.rn"
        return ctx.statement(sql, kind="rows", columns=out_columns, decoders=decoders)

    def distinct(self, ctx: _Ctx, model: ModelMeta, node: n.Select, cols: list[str], source: str, where: str,
                 order: list[str]) -> str:
        """Prisma's distinct: number the rows of each combination of the distinct fields in
        ``order_by`` order (the identity breaks ties, so "first" is the same row everywhere), keep
        row 1, then filter (``after``: find_page's keyset), order and page what is left."""
        d = self.d
        q = "t0"
        named = {o.field for o in node.order_by if not o.path and not o.count}
        first = order + [self.order_item(ctx, model, q, n.OrderItem(f)) for f in model.identity or () if f not in named]
        keys = ", ".join(d.comparable(self.col(q, model, f), model.fields[f]) for f in node.distinct)
        values = [self.order_value(ctx, model, q, o) for o in node.order_by]
        aliased = [f"{c} AS c{i}" for i, c in enumerate(cols)] + [f"{v} AS o{i}" for i, v in enumerate(values)]
        over = f"PARTITION BY {keys}" + (f" ORDER BY {', '.join(first)}" if first else "")
        inner = f"SELECT {', '.join(aliased)}, ROW_NUMBER() OVER ({over}) AS rn FROM {source}{where}"
        sql = f"SELECT {', '.join(f'w.c{i}' for i in range(len(cols)))} FROM ({inner}) w WHERE w.rn = 1"
        if node.after is not None:
            shown = ref_model(model, {c: replace(model.fields[c], column=f"w.c{i}") for i, c in enumerate(node.columns)})
            sql += f" AND ({self.cond(ctx, shown, '', node.after)})"
        if node.order_by:
            sql += " ORDER BY " + ", ".join(d.order(f"w.o{i}", o.desc, o.nulls) for i, o in enumerate(node.order_by))
        take = ctx.ph(node.take) if node.take is not None else None
        skip = ctx.ph(node.skip) if node.skip is not None else None
        return sql + d.limit(take, skip)

    def _count(self, node: n.Count) -> SqlStatement:
        model = self.schema.models[node.model]
        ctx = _Ctx(self.d)
        sql = f"SELECT COUNT(*) FROM {self.d.table(model)} t0{self.where(ctx, model, 't0', node.where)}"
        return ctx.statement(sql, kind="scalar")

    # -- aggregates ------------------------------------------------------------------------
    def aggregates(self, model: ModelMeta, q: str, by: tuple[str, ...], aggs: tuple[n.Agg, ...]
                   ) -> tuple[list[str], tuple[str, ...], tuple[Fn | None, ...], dict[str, FieldMeta]]:
        """Result columns (group keys, then aggregates; ``avg`` as its sum and count), their names and
        decoders, and the pseudo-fields ``having`` / ``order_by`` compile against (column = SQL)."""
        d = self.d
        cols: list[str] = []
        names: list[str] = []
        decoders: list[Fn | None] = []
        for b in by:
            cols.append(self.col(q, model, b))
            names.append(b)
            decoders.append(d.decoder(model.fields[b]))
        refs = ref_fields(model, by, aggs)
        for b in by:
            refs[b] = replace(refs[b], column=self.col(q, model, b))
        for a in aggs:
            f = model.fields[a.field] if a.field is not None else None
            expr = self.col(q, model, a.field) if a.field is not None else None
            refs[a.key] = replace(refs[a.key], column=d.aggregate(a.fn, expr, f))
            if a.fn == "count":
                cols.append(d.aggregate("count", expr, f))
                decoders.append(int)
            elif a.fn in ("sum", "avg"):
                assert f is not None
                cols.append(d.aggregate("sum", expr, f))
                decoders.append(int if f.value_kind in ("integer", "bigint") else d.decoder(f))
            else:
                cols.append(d.aggregate(a.fn, expr, f))
                decoders.append(d.decoder(f) if f is not None else None)
            names.append(a.key)
            if a.fn == "avg":
                cols.append(d.aggregate("count", expr, f))
                names.append(a.key + ".n")
                decoders.append(int)
        return cols, tuple(names), tuple(decoders), refs

    def _aggregate(self, node: n.Aggregate) -> SqlStatement:
        model = self.schema.models[node.model]
        ctx = _Ctx(self.d)
        cols, names, decoders, _ = self.aggregates(model, "t0", (), node.aggs)
        sql = f"SELECT {', '.join(cols)} FROM {self.d.table(model)} t0{self.where(ctx, model, 't0', node.where)}"
        return ctx.statement(sql, kind="rows", columns=names, decoders=decoders)

    def _groupby(self, node: n.GroupBy) -> SqlStatement:
        d = self.d
        model = self.schema.models[node.model]
        ctx = _Ctx(d)
        cols, names, decoders, refs = self.aggregates(model, "t0", node.by, node.aggs)
        groups = ref_model(model, refs)
        sql = f"SELECT {', '.join(cols)} FROM {d.table(model)} t0{self.where(ctx, model, 't0', node.where)}"
        sql += " GROUP BY " + ", ".join(self.col("t0", model, b) for b in node.by)
        if node.having is not None:
            sql += f" HAVING {self.cond(ctx, groups, '', node.having)}"
        order = []
        for o in node.order_by:
            ref = refs[o.field if o.field is not None else o.agg.key]  # type: ignore[union-attr]
            order.append(d.order(d.comparable(ref.column, ref), o.desc, o.nulls))
        if order:
            sql += " ORDER BY " + ", ".join(order)
        take = ctx.ph(node.take) if node.take is not None else None
        skip = ctx.ph(node.skip) if node.skip is not None else None
        sql += d.limit(take, skip)
        return ctx.statement(sql, kind="rows", columns=names, decoders=decoders)

    # -- writes ----------------------------------------------------------------------------
    def returning(self, model: ModelMeta, fields: tuple[str, ...]) -> str:
        if not fields:
            return ""
        return " RETURNING " + ", ".join(self.d.quote(model.fields[f].column) for f in fields)

    def _insert(self, node: n.Insert) -> SqlStatement:
        model = self.schema.models[node.model]
        echo = self._echo(model, node) if node.returning else None
        if echo is not None:
            # the rows are the values the INSERT binds: no RETURNING, the connection builds them
            stmt = self._insert(n.Insert(node.model, node.columns, node.rows, ()))
            stmt.columns, stmt.echo, stmt.decoders = node.returning, echo[0], echo[1]
            return stmt
        ctx = _Ctx(self.d)
        table = self.d.table(model)
        columnar = row_width = 0
        types = [self.d.array_type(model.fields[c]) for c in node.columns] if node.rows > 1 else []
        if not node.columns:
            sql = self.d.insert_default_values(table)
        elif types and all(types):
            # one array per column: params arrive row by row and SqlStatement.bind regroups them
            columnar = len(node.columns)
            arrays = ", ".join(f"{ctx.ph(n.Param(i), self.d.encoder(model.fields[c]))}::{t}[]"
                               for i, (c, t) in enumerate(zip(node.columns, types)))
            cols = ", ".join(self.d.quote(model.fields[c].column) for c in node.columns)
            sql = f"INSERT INTO {table} ({cols}) SELECT * FROM unnest({arrays})"
        else:
            # params bind in order, row by row (slots 0, 1, 2, …), each column's encoder over the
            # column's values at once (SqlStatement.bind's ``row_width``) rather than per param
            fields = [model.fields[c] for c in node.columns]
            width = row_width = len(node.columns)
            rows = []
            for r in range(node.rows):
                rows.append("(" + ", ".join(self.d.value_sql(ctx.ph(n.Param(r * width + i)), fields[i])
                                            for i in range(width)) + ")")
            cols = ", ".join(self.d.quote(model.fields[c].column) for c in node.columns)
            sql = f"INSERT INTO {table} ({cols}) VALUES {', '.join(rows)}"
            ctx.encoders = {i: e for i, e in enumerate(self.d.encoder(fl) for fl in fields) if e is not None}
        sql += self.returning(model, node.returning)
        return ctx.statement(
            sql, kind="returning" if node.returning else "count", columns=node.returning,
            decoders=self.decoders(model, node.returning), columnar=columnar, row_width=row_width,
        )

    def _echo(self, model: ModelMeta, node: n.Insert) -> tuple[tuple[int, ...], tuple[Fn | None, ...]] | None:
        """Where an insert's returned columns are all values it binds, stored as bound (the
        dialect's ``echo``): each one's position in a row's params and its decoder; else None."""
        if not node.columns:
            return None
        picks: list[int] = []
        decoders: list[Fn | None] = []
        for c in node.returning:
            if c not in node.columns:
                return None  # a value the database fills (a generated id, the column's default)
            exact, decoder = self.d.echo(model.fields[c])
            if not exact:
                return None
            picks.append(node.columns.index(c))
            decoders.append(decoder)
        return tuple(picks), tuple(decoders)

    def assignments(self, ctx: _Ctx, model: ModelMeta, columns: tuple[str, ...], values: tuple[n.Param, ...]) -> list[str]:
        return [
            f"{self.d.quote(model.fields[c].column)} = "
            f"{self.d.value_sql(ctx.ph(p, self.d.encoder(model.fields[c])), model.fields[c])}"
            for c, p in zip(columns, values)
        ]

    def increments(self, model: ModelMeta, fields: tuple[str, ...], qualify: bool = False) -> list[str]:
        """``col = col + 1`` for each field (the version counter); ``qualify`` names the table (an
        upsert's conflict clause, where PostgreSQL would find the column ambiguous with ``excluded``)."""
        prefix = f"{self.d.table(model)}." if qualify else ""
        return [f"{c} = {prefix}{c} + 1" for c in (self.d.quote(model.fields[f].column) for f in fields)]

    def arith(self, ctx: _Ctx, model: ModelMeta, ops: tuple[n.Arith, ...], qualify: bool = False) -> list[str]:
        """``col = col <op> param`` for each atomic operation (``qualify``: see ``increments``)."""
        prefix = f"{self.d.table(model)}." if qualify else ""
        out = []
        for a in ops:
            f = model.fields[a.field]
            c = self.d.quote(f.column)
            out.append(f"{c} = {self.d.arith(prefix + c, a.op, ctx.ph(a.value, self.d.encoder(f)), f)}")
        return out

    def identity_match(self, ctx: _Ctx, model: ModelMeta, where: n.Condition | None) -> str:
        """``(identity) IN (SELECT identity ... WHERE ... LIMIT 1)``: the first matching row."""
        ident = model.identity or ()
        outer = ", ".join(self.d.quote(model.fields[f].column) for f in ident)
        inner = ", ".join(self.col("t0", model, f) for f in ident)
        sub = f"SELECT {inner} FROM {self.d.table(model)} t0{self.where(ctx, model, 't0', where)}{self.d.limit('1', None)}"
        if len(ident) > 1:
            outer = f"({outer})"
        return f"{outer} IN ({sub})"

    def _update(self, node: n.Update) -> SqlStatement:
        model = self.schema.models[node.model]
        ctx = _Ctx(self.d)
        table = self.d.table(model)
        sets = ", ".join(self.assignments(ctx, model, node.columns, node.values)
                         + self.arith(ctx, model, node.arith) + self.increments(model, node.increments))
        if node.first:
            sql = f"UPDATE {table} SET {sets} WHERE {self.identity_match(ctx, model, node.where)}"
        else:
            sql = f"UPDATE {table} SET {sets}{self.where(ctx, model, table, node.where)}"
        sql += self.returning(model, node.returning)
        return ctx.statement(
            sql, kind="returning" if node.returning else "count",
            columns=node.returning, decoders=self.decoders(model, node.returning),
        )

    def _delete(self, node: n.Delete) -> SqlStatement:
        model = self.schema.models[node.model]
        ctx = _Ctx(self.d)
        table = self.d.table(model)
        if node.first:
            sql = f"DELETE FROM {table} WHERE {self.identity_match(ctx, model, node.where)}"
        else:
            sql = f"DELETE FROM {table}{self.where(ctx, model, table, node.where)}"
        sql += self.returning(model, node.returning)
        return ctx.statement(
            sql, kind="returning" if node.returning else "count",
            columns=node.returning, decoders=self.decoders(model, node.returning),
        )

    def _upsert(self, node: n.Upsert) -> SqlStatement:
        model = self.schema.models[node.model]
        ctx = _Ctx(self.d)
        table = self.d.table(model)
        cols = ", ".join(self.d.quote(model.fields[c].column) for c in node.columns)
        vals = ", ".join(self.d.value_sql(ctx.ph(p, self.d.encoder(model.fields[c])), model.fields[c])
                         for c, p in zip(node.columns, node.values))
        conflict = [self.d.quote(model.fields[c].column) for c in node.conflict]
        sets = self.assignments(ctx, model, node.update_columns, node.update_values) \
            + self.arith(ctx, model, node.update_arith, qualify=True) \
            + self.increments(model, node.update_increments, qualify=True)
        sql = f"INSERT INTO {table} ({cols}) VALUES ({vals})" + self.d.upsert_clause(conflict, sets, conflict[0])
        sql += self.returning(model, node.returning)
        return ctx.statement(
            sql, kind="returning" if node.returning else "count",
            columns=node.returning, decoders=self.decoders(model, node.returning),
        )

    # -- raw SQL ---------------------------------------------------------------------------
    def _raw(self, node: n.Raw) -> SqlStatement:
        """The caller's text with this dialect's placeholders and quoted schema names. With
        "format" placeholders (%s) the driver interpolates, so a literal % is doubled."""
        d = self.d
        ctx = _Ctx(d)
        escape = d.placeholder_style == "format" and any(isinstance(p, n.Param) for p in node.parts)
        out = []
        for p in node.parts:
            if isinstance(p, str):
                out.append(p.replace("%", "%%") if escape else p)
            elif isinstance(p, n.Param):
                out.append(ctx.ph(p))
            else:
                model = self.schema.models[p.model]
                out.append(d.table(model) if p.field is None else d.quote(model.fields[p.field].column))
        return ctx.statement("".join(out), kind="raw" if node.fetch else "count")
