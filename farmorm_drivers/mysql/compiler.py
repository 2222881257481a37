"""MySQL compilation: writes without RETURNING become small programs (write + keyed re-read).

MySQL 8 has no RETURNING. A program is plain data (its statements and where each key comes from);
``programs.run_program`` runs its statements on one connection inside one transaction (the
connection opens it when no farmorm transaction is running), so the re-read sees exactly the
written row. MariaDB 10.5+ has ``INSERT … RETURNING``: there ``create`` / ``create_many`` compile
to that one statement (one round trip instead of BEGIN, INSERT, re-read, COMMIT); its UPDATE has
no RETURNING, so updates and upserts stay programs on both.

An insert whose every returned column is a value it writes (or the generated id of a single row)
reads nothing back on either: under strict mode the server stores those values exactly as sent,
so the rows are the bound values (``EchoInsertProgram``). Parsing a result set is most of what a
write costs the client here (aiomysql decodes each column definition in Python). An update whose
where names one record through anything but its integer id learns that id from the UPDATE itself
(``LAST_INSERT_ID(id)``, in the OK packet), so it is UPDATE + SELECT by id like an update by id.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from farmorm.core.driver import Compiled
from farmorm.query import nodes as n
from farmorm.schema.manifest import ModelMeta

from .._sql.compiler import SqlCompiler, _Ctx
from .._sql.ddl import _indexed_columns
from .._sql.dialect import Fn
from .._sql.statement import SqlStatement
from .dialect import INDEXED_STRING_CHARS, MysqlDialect

class Reread(NamedTuple):
    """A re-read's layout (``SqlStatement.extra``): ``keys``, each key's position in a selected
    row (several rows); ``packed``, the row is one JSON array (one row)."""

    keys: tuple[int, ...]
    packed: bool


class Program(Compiled):
    """Several statements run as one write: plain data, run by ``programs.run_program`` on a
    connection; ``columns``/``decoders`` describe the re-read rows."""

    statement = ""
    #: the write may have to be undone inside a running transaction (an upsert's collision)
    needs_savepoint = False
    #: run in a transaction of its own when none is running (False: its statements are exact alone)
    needs_transaction = True


class InsertProgram(Program):
    """INSERT, then SELECT by identity: ids from the params, or generated from ``lastrowid`` on.

    ``sources``: per identity field, the position of its value in a row's params (with its
    encoder), or None for a generated id."""

    def __init__(self, write: SqlStatement, reread: SqlStatement | None, width: int, rows: int,
                 sources: tuple[tuple[int | None, Fn | None], ...], columns: tuple[str, ...],
                 decoders: tuple[Fn | None, ...]) -> None:
        self.write, self.re, self.width, self.rows, self.sources = write, reread, width, rows, sources
        self.columns, self.decoders, self.statement = columns, decoders, write.sql


class EchoInsertProgram(Program):
    """INSERT alone; the rows are the values it wrote. ``picks``: per returned column, where its
    value is in a row's params, ``(False, pos)`` the validated value, which is already what a read
    decodes (bools, aware UTC datetimes, ints, text), ``(True, pos)`` the bound (encoded) value,
    decoded like a read's (JSON text); or None: the generated id of a one-row insert, from the
    OK packet.

    Exact because strict mode stores every value of these kinds as sent or refuses it, with one
    exception checked before the insert runs (``fits``): text past a ``VARCHAR(n)`` whose excess is
    only spaces is trimmed with a note. ``limits`` (param position, n) name those columns; a value
    longer than its column runs ``fallback`` (the same insert reading its rows back) instead, whose
    rows then get the decoders (``late``) the echoed values did not need."""

    needs_transaction = False

    def __init__(self, write: SqlStatement, fallback: Compiled, width: int,
                 picks: tuple[tuple[bool, int] | None, ...], limits: tuple[tuple[int, int], ...],
                 columns: tuple[str, ...], decoders: tuple[Fn | None, ...], late: tuple[tuple[int, Fn], ...]) -> None:
        self.write, self.fallback, self.width, self.picks, self.limits = write, fallback, width, picks, limits
        self.columns, self.decoders, self.late, self.statement = columns, decoders, late, write.sql
        #: the common case: the rows are the params as they are, row by row, in column order
        self.whole = picks == tuple((False, i) for i in range(width))


class UpdateFirstProgram(Program):
    """SELECT identity … LIMIT 1 FOR UPDATE, UPDATE by identity, then re-read by the (new) identity.

    ``values``: the params of the SET values; ``new_key``: per identity field, the param that
    changes it (with its encoder), or None when the update leaves it."""

    def __init__(self, find: SqlStatement, write: SqlStatement, reread: SqlStatement | None,
                 values: tuple[int, ...], new_key: tuple[tuple[int | None, Fn | None], ...],
                 columns: tuple[str, ...], decoders: tuple[Fn | None, ...]) -> None:
        self.find, self.write, self.re, self.values, self.new_key = find, write, reread, values, new_key
        self.columns, self.decoders, self.statement = columns, decoders, write.sql


class DeleteProgram(Program):
    """SELECT the rows (and their identity) FOR UPDATE, then DELETE each by identity (MySQL 8).

    ``width``: how many identity columns end each found row (the DELETE's params)."""

    def __init__(self, find: SqlStatement, by_key: SqlStatement, width: int, columns: tuple[str, ...],
                 decoders: tuple[Fn | None, ...]) -> None:
        self.find, self.by_key, self.width = find, by_key, width
        self.columns, self.decoders, self.statement = columns, decoders, find.sql


class KeyedUpdateProgram(Program):
    """UPDATE … LIMIT 1, then (when it matched) SELECT the record by its identity: two statements
    and no transaction of its own (MariaDB has no UPDATE … RETURNING). ``key``: per identity field,
    the param holding its value after the write (the where's, or the new one the update sets), or
    None: the updated row's integer id, which the UPDATE reported through ``LAST_INSERT_ID(id)``."""

    needs_transaction = False

    def __init__(self, write: SqlStatement, reread: SqlStatement, key: tuple[tuple[int | None, Fn | None], ...],
                 columns: tuple[str, ...], decoders: tuple[Fn | None, ...]) -> None:
        self.write, self.re, self.key = write, reread, key
        self.columns, self.decoders, self.statement = columns, decoders, write.sql


class UpsertProgram(Program):
    """INSERT … ON DUPLICATE KEY UPDATE, then re-read by the lookup (conflict) values."""

    needs_savepoint = True

    def __init__(self, write: SqlStatement, reread: SqlStatement | None,
                 lookup: tuple[tuple[int, Fn | None], ...], columns: tuple[str, ...],
                 decoders: tuple[Fn | None, ...]) -> None:
        self.write, self.re, self.lookup = write, reread, lookup
        self.columns, self.decoders, self.statement = columns, decoders, write.sql


def _equalities(where: n.Condition | None) -> dict[str, n.Param]:
    """``field = param`` comparisons that every row ``where`` matches must satisfy (its top-level
    AND), by field."""
    items = where.items if isinstance(where, n.And) else (where,) if where is not None else ()
    found: dict[str, n.Param] = {}
    for c in items:
        if isinstance(c, n.And):
            found.update(_equalities(c))
        elif isinstance(c, n.Compare) and c.op == "eq" and not c.insensitive:
            found[c.field] = c.value
    return found


def _filters_relations(c: n.Condition | None) -> bool:
    """Whether a condition filters through a relation (a sub-query on another table)."""
    if c is None:
        return False
    if isinstance(c, n.RelationFilter):
        return True
    if isinstance(c, (n.And, n.Or)):
        return any(_filters_relations(i) for i in c.items)
    if isinstance(c, n.Not):
        return _filters_relations(c.item)
    return False


class MysqlCompiler(SqlCompiler):
    """The shared compiler with MySQL's write programs; ``insert_returning`` (MariaDB 10.5+) makes
    inserts one ``INSERT … RETURNING`` statement instead of a program."""

    def __init__(self, schema: Any, dialect: MysqlDialect, *, insert_returning: bool = False,
                 delete_returning: bool = False) -> None:
        super().__init__(schema, dialect)
        #: MariaDB keeps JSON as the text sent (a checked LONGTEXT); MySQL 8 stores it normalized
        self.json_as_sent = dialect.mariadb
        #: a one-row re-read selects one JSON_ARRAY of its columns (see ``reread``; MariaDB's
        #: JSON_ARRAY keeps decimals' scale, microseconds and big integers exactly, tested there)
        self.packed_rereads = dialect.mariadb
        self.insert_returning = insert_returning
        self.delete_returning = delete_returning

    def reread(self, model: ModelMeta, columns: tuple[str, ...], keys: tuple[str, ...], rows: int) -> SqlStatement:
        """SELECT ``columns`` of the rows whose ``keys`` are the bound values (``rows`` key tuples).

        Several rows: a key column not among ``columns`` is selected after them (dropped from the
        rows again) to put the rows in key order. One row on MariaDB (``packed_rereads``): the
        columns come packed in one ``JSON_ARRAY`` (JSON columns as their text), one column for
        aiomysql to describe instead of one each. ``extra``: a :class:`Reread`."""
        ctx = _Ctx(self.d)
        tail = tuple(k for k in keys if k not in columns) if rows > 1 else ()
        exprs = [self.col("t0", model, c) for c in (*columns, *tail)]
        packed = self.packed_rereads and rows == 1 and bool(columns)
        if packed:
            exprs = [f"CAST({e} AS CHAR)" if model.fields[c].value_kind == "json" else e for e, c in zip(exprs, columns)]
            cols = f"JSON_ARRAY({', '.join(exprs)})"
        else:
            cols = ", ".join(exprs)
        width = len(keys)
        if width == 1:
            cond = f"{self.col('t0', model, keys[0])} IN ({', '.join(ctx.ph(n.Param(r)) for r in range(rows))})"
        else:
            cond = " OR ".join(
                "(" + " AND ".join(f"{self.col('t0', model, k)} = {ctx.ph(n.Param(r * width + j))}"
                                   for j, k in enumerate(keys)) + ")"
                for r in range(rows)
            )
        sql = f"SELECT {cols} FROM {self.d.table(model)} t0 WHERE {cond}"
        where = tuple(columns.index(k) if k in columns else len(columns) + tail.index(k) for k in keys) if rows > 1 else ()
        return ctx.statement(sql, kind="rows", columns=columns, decoders=self.decoders(model, columns),
                             extra=Reread(where, packed))

    def echo(self, model: ModelMeta, node: n.Insert, fallback: Compiled) -> Compiled:
        """The insert as an ``EchoInsertProgram`` when every column it returns is a value it writes
        (or a one-row insert's generated id); ``fallback`` otherwise."""
        picks: list[tuple[bool, int] | None] = []
        for c in node.returning:
            f = model.fields[c]
            if c in node.columns:
                kind = f.value_kind
                # DECIMAL rounds to its scale; MySQL 8 rewrites JSON text (MariaDB keeps it as sent)
                if kind == "decimal" or (kind == "json" and not self.json_as_sent):
                    return fallback
                picks.append((kind == "json", node.columns.index(c)))  # JSON: decode the text sent
            elif f.generated == "increment" and node.rows == 1 and f.value_kind == "integer":
                picks.append(None)
            else:  # not written: the column's own default, which the schema may not know; read it back
                return fallback
        indexed = _indexed_columns(model)
        limits = []
        for i, c in enumerate(node.columns):
            f = model.fields[c]
            if f.value_kind != "string" or f.kind == "enum":
                continue
            if f.max_length is not None and f.kind == "string":
                limits.append((i, f.max_length))
            elif f.unique or f.is_id or f.references is not None or c in indexed:
                limits.append((i, INDEXED_STRING_CHARS))  # ddl.column_sql: VARCHAR(191)
        read = self.decoders(model, node.returning)
        decoders = tuple(fn if pick is not None and pick[0] else None for fn, pick in zip(read, picks))
        late = tuple((i, fn) for i, (fn, mine) in enumerate(zip(read, decoders)) if fn is not None and mine is None)
        write = super()._insert(n.Insert(node.model, node.columns, node.rows, ()))
        return EchoInsertProgram(write, fallback, len(node.columns), tuple(picks), tuple(limits),
                                 node.returning, decoders, late)

    def _insert(self, node: n.Insert) -> Compiled:  # type: ignore[override]  # a Program, not one statement
        if not node.returning:
            return super()._insert(node)
        model = self.schema.models[node.model]
        return self.echo(model, node, self._insert_reading(model, node))

    def _insert_reading(self, model: ModelMeta, node: n.Insert) -> Compiled:
        """The insert that reads its rows back: ``INSERT … RETURNING`` (MariaDB 10.5+), else a
        program re-reading them by identity."""
        if self.insert_returning:
            return super()._insert(node)  # MariaDB: INSERT … RETURNING, atomic on its own
        write = super()._insert(n.Insert(node.model, node.columns, node.rows, ()))
        ident = model.identity or ()
        sources: list[tuple[int | None, Fn | None]] = []
        for f in ident:
            if f in node.columns:
                sources.append((node.columns.index(f), self.d.encoder(model.fields[f])))
            elif model.fields[f].generated == "increment":
                sources.append((None, None))
            else:  # no way to find the row again: report the count only
                return write
        reread = self.reread(model, node.returning, ident, node.rows)
        return InsertProgram(write, reread, len(node.columns), node.rows, tuple(sources),
                             node.returning, reread.decoders)

    def _update(self, node: n.Update) -> Compiled:  # type: ignore[override]
        if not node.first:
            return super()._update(n.Update(node.model, node.columns, node.values, node.where, False, (),
                                            node.increments, node.arith))
        model = self.schema.models[node.model]
        if not _filters_relations(node.where):
            # MySQL cannot read the target table in a subquery of its own UPDATE, so relation
            # filters keep the program below
            plain = super()._update(n.Update(node.model, node.columns, node.values, node.where, False, (),
                                             node.increments, node.arith))
            write = SqlStatement(plain.sql + " LIMIT 1", plain.slots, dict(plain.encoders), kind="count",
                                 expand=plain.expand, placeholder=plain.placeholder)
            if not node.returning:
                return write  # nothing to read back: one UPDATE … LIMIT 1 (the count path)
            keyed = self._keyed_update(model, node, write)
            if keyed is not None:
                return keyed
        ident = model.identity or ()
        fctx = _Ctx(self.d)
        find = fctx.statement(
            f"SELECT {', '.join(self.col('t0', model, f) for f in ident)} FROM {self.d.table(model)} t0"
            f"{self.where(fctx, model, 't0', node.where)} LIMIT 1 FOR UPDATE", kind="rows")
        wctx = _Ctx(self.d)
        k = len(node.columns)
        arith = tuple(n.Arith(a.field, a.op, n.Param(k + i)) for i, a in enumerate(node.arith))
        sets = ", ".join(self.assignments(wctx, model, node.columns, tuple(n.Param(i) for i in range(k)))
                         + self.arith(wctx, model, arith) + self.increments(model, node.increments))
        k += len(arith)
        by_key = " AND ".join(f"{self.d.quote(model.fields[f].column)} = {wctx.ph(n.Param(k + j))}"
                              for j, f in enumerate(ident))
        write = wctx.statement(f"UPDATE {self.d.table(model)} SET {sets} WHERE {by_key}", kind="count")
        new_key = tuple(
            (node.values[node.columns.index(f)].index, self.d.encoder(model.fields[f])) if f in node.columns
            else (None, None)
            for f in ident
        )
        back = self.reread(model, node.returning, ident, 1) if node.returning else None
        return UpdateFirstProgram(find, write, back, tuple(p.index for p in node.values)
                                  + tuple(a.value.index for a in node.arith), new_key,
                                  node.returning, back.decoders if back else ())

    def _keyed_update(self, model: ModelMeta, node: n.Update, write: SqlStatement) -> KeyedUpdateProgram | None:
        """UPDATE … LIMIT 1 + SELECT by a key, when a key of the record is known after the write:
        its identity or a unique key, each field from the where's equalities or the value the update
        sets; else, for a single integer id, from the UPDATE itself (``id = IF(LAST_INSERT_ID(id),
        id, id)`` leaves the id as it is and puts it in the OK packet). None: the locked
        find-write-reread program (a compound or string identity the where does not name, or an
        update that computes a key)."""
        ident = model.identity or ()
        if not ident:
            return None
        computed = {a.field for a in node.arith} | set(node.increments)
        equal = _equalities(node.where)
        sets = dict(zip(node.columns, node.values))
        for key in (ident, *(c.fields for c in (*model.uniques, *model.field_uniques))):
            params: list[int] = []
            for f in key:
                if f in computed or (f in sets and model.fields[f].nullable):  # NULL would name no row
                    break
                p = sets[f] if f in sets else equal.get(f)
                if p is None:
                    break
                params.append(p.index)
            else:
                back = self.reread(model, node.returning, key, 1)
                return KeyedUpdateProgram(write, back, tuple((i, self.d.encoder(model.fields[f]))
                                                             for i, f in zip(params, key)),
                                          node.returning, back.decoders)
        if len(ident) != 1 or ident[0] in computed or model.fields[ident[0]].value_kind != "integer":
            return None
        ctx = _Ctx(self.d)
        table = self.d.table(model)
        col = self.d.quote(model.fields[ident[0]].column)
        assigned = ", ".join(self.assignments(ctx, model, node.columns, node.values)
                             + self.arith(ctx, model, node.arith) + self.increments(model, node.increments)
                             + [f"{col} = IF(LAST_INSERT_ID({col}), {col}, {col})"])
        write = ctx.statement(f"UPDATE {table} SET {assigned}{self.where(ctx, model, table, node.where)} LIMIT 1",
                              kind="count")
        back = self.reread(model, node.returning, ident, 1)
        return KeyedUpdateProgram(write, back, ((None, None),), node.returning, back.decoders)

    def _delete(self, node: n.Delete) -> Compiled:  # type: ignore[override]
        model = self.schema.models[node.model]
        if node.returning and not self.delete_returning:
            return self._delete_program(model, node)
        if not node.first:
            return super()._delete(node)
        ctx = _Ctx(self.d)
        table = self.d.table(model)
        # MariaDB: DELETE … RETURNING (10.0.5+), one statement like PostgreSQL's
        return ctx.statement(
            f"DELETE FROM {table}{self.where(ctx, model, table, node.where)} LIMIT 1"
            + self.returning(model, node.returning),
            kind="returning" if node.returning else "count",
            columns=node.returning, decoders=self.decoders(model, node.returning))

    def _delete_program(self, model: ModelMeta, node: n.Delete) -> Compiled:
        """MySQL 8 (no RETURNING): read the rows with their identity under FOR UPDATE, delete those."""
        ident = model.identity or ()
        fctx = _Ctx(self.d)
        cols = ", ".join(self.col("t0", model, c) for c in (*node.returning, *ident))
        find = fctx.statement(
            f"SELECT {cols} FROM {self.d.table(model)} t0{self.where(fctx, model, 't0', node.where)}"
            f"{' LIMIT 1' if node.first else ''} FOR UPDATE", kind="rows")
        dctx = _Ctx(self.d)
        by_key = " AND ".join(f"{self.d.quote(model.fields[f].column)} = {dctx.ph(n.Param(j))}"
                              for j, f in enumerate(ident))
        delete = dctx.statement(f"DELETE FROM {self.d.table(model)} WHERE {by_key}", kind="count")
        return DeleteProgram(find, delete, len(ident), node.returning, self.decoders(model, node.returning))

    def _upsert(self, node: n.Upsert) -> Compiled:  # type: ignore[override]
        model = self.schema.models[node.model]
        write = super()._upsert(n.Upsert(node.model, node.columns, node.values, node.conflict,
                                         node.update_columns, node.update_values, (),
                                         node.update_increments, node.update_arith))
        if not node.returning or any(f not in node.columns for f in node.conflict):
            return write  # nothing to re-read by: the core re-reads by the lookup
        lookup = tuple((node.values[node.columns.index(f)].index, self.d.encoder(model.fields[f]))
                       for f in node.conflict)
        reread = self.reread(model, node.returning, node.conflict, 1)
        return UpsertProgram(write, reread, lookup, node.returning, reread.decoders)
