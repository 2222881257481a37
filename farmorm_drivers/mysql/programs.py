"""Running MySQL's write programs (``compiler.Program``: plain data) on a connection.

A program is a write plus a keyed re-read (MySQL 8 has no RETURNING, MariaDB's UPDATE neither), or
an insert whose rows are the values it bound (``EchoInsertProgram``). The connection runs a
program that ``needs_transaction`` inside one (see ``MysqlConnection.run``); these functions only
issue its statements through :class:`Statements`, so the compiled programs hold no behaviour and
never call back into a connection.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol, Sequence

import msgspec

from farmorm.core.driver import Result

from .._sql.dialect import Fn
from .._sql.statement import SqlStatement
from .compiler import (
    DeleteProgram,
    EchoInsertProgram,
    InsertProgram,
    KeyedUpdateProgram,
    Program,
    Reread,
    UpdateFirstProgram,
    UpsertProgram,
)
from .errors import UpsertCollision

Key = tuple[Any, ...]
#: a packed re-read row: JSON numbers with a fraction are DECIMAL columns (farmorm has no floats),
#: so they decode exactly, with the column's scale
_unpack = msgspec.json.Decoder(float_hook=Decimal).decode


class Statements(Protocol):
    """What a program needs of a connection: one statement at a time, and the last insert id."""

    lastrowid: int

    async def execute(self, sql: str, args: Sequence[Any] = (), kind: str = "count") -> Result: ...


def _encode(enc: Fn | None, v: Any) -> Any:
    return enc(v) if enc is not None and v is not None else v


async def run_program(conn: Statements, program: Program, params: Sequence[Any], autoinc_step: int) -> Result:
    """Run ``program``'s statements on ``conn``; ``autoinc_step`` is the server's
    ``auto_increment_increment`` (generated ids of a multi-row insert are that far apart)."""
    if isinstance(program, EchoInsertProgram):
        return await _echo_insert(conn, program, params)
    if isinstance(program, InsertProgram):
        return await _insert(conn, program, params, autoinc_step)
    if isinstance(program, UpdateFirstProgram):
        return await _update_first(conn, program, params)
    if isinstance(program, UpsertProgram):
        return await _upsert(conn, program, params)
    if isinstance(program, DeleteProgram):
        return await _delete(conn, program, params)
    if isinstance(program, KeyedUpdateProgram):
        return await _keyed_update(conn, program, params)
    raise TypeError(f"not a MySQL program: {program!r}")


def fits(program: EchoInsertProgram, params: Sequence[Any]) -> bool:
    """Whether the server stores every value of ``params`` as sent (see ``EchoInsertProgram``:
    text longer than its ``VARCHAR`` is not)."""
    width = program.width
    for pos, chars in program.limits:
        for v in params[pos::width]:
            if v is not None and len(v) > chars:
                return False
    return True


def decoded(program: EchoInsertProgram, result: Result) -> Result:
    """The fallback's rows as the echoed ones come: the columns the echo leaves undecoded decoded."""
    if not program.late or not result.rows:
        return result
    rows = [list(r) for r in result.rows]
    for i, fn in program.late:
        for r in rows:
            if r[i] is not None:
                r[i] = fn(r[i])
    return Result(rows, result.rowcount, result.columns)


def _signed(insert_id: int) -> int:
    """``LAST_INSERT_ID(expr)`` is unsigned: a negative id comes back as its two's complement."""
    return insert_id - (1 << 64) if insert_id >= 1 << 63 else insert_id


async def _reread(conn: Statements, stmt: SqlStatement, keys: list[Key]) -> Result:
    """Rows of ``keys`` in key order, as the statement's columns (see ``MysqlCompiler.reread``)."""
    sql, args = stmt.bind([v for k in keys for v in k])
    result = await conn.execute(sql, args, "rows")
    rows = result.rows
    layout: Reread = stmt.extra
    if layout.packed:
        return Result([_unpack(r[0]) for r in rows], result.rowcount)
    if len(rows) > 1:
        # SELECT … IN has no order: put rows back in write order (create_many's input order)
        where = layout.keys
        by_key = {tuple(r[i] for i in where): r for r in rows}
        if len(by_key) == len(rows) and all(k in by_key for k in keys):
            rows = [by_key[k] for k in keys]
    width = len(stmt.columns)
    if rows and len(rows[0]) > width:
        rows = [r[:width] for r in rows]
    return Result(rows, result.rowcount)


async def _echo_insert(conn: Statements, p: EchoInsertProgram, params: Sequence[Any]) -> Result:
    sql, args = p.write.bind(params)
    done = await conn.execute(sql, args, "count")
    width = p.width
    if p.whole:
        return Result([params[i:i + width] for i in range(0, len(params), width)], done.rowcount)
    inserted = conn.lastrowid
    sources = (params, args)
    starts = range(0, len(params), width) if width else range(1)  # INSERT … () VALUES (): the id alone
    return Result([[inserted if pick is None else sources[pick[0]][i + pick[1]] for pick in p.picks]
                   for i in starts], done.rowcount)


async def _insert(conn: Statements, p: InsertProgram, params: Sequence[Any], step: int) -> Result:
    sql, args = p.write.bind(params)
    done = await conn.execute(sql, args, "count")
    if p.re is None:
        return done
    first = conn.lastrowid
    keys = [
        tuple(_encode(enc, params[r * p.width + pos]) if pos is not None else first + r * step
              for pos, enc in p.sources)
        for r in range(p.rows)
    ]
    return await _reread(conn, p.re, keys)


async def _update_first(conn: Statements, p: UpdateFirstProgram, params: Sequence[Any]) -> Result:
    sql, args = p.find.bind(params)
    found = await conn.execute(sql, args, "rows")
    if not found.rows:
        return Result([], 0)
    key = tuple(found.rows[0])
    sql, args = p.write.bind([params[i] for i in p.values] + list(key))
    done = await conn.execute(sql, args, "count")
    if p.re is None:
        return done
    # an update may change the identity itself: re-read by the value it now has
    new = tuple(key[j] if i is None else _encode(enc, params[i]) for j, (i, enc) in enumerate(p.new_key))
    return await _reread(conn, p.re, [new])


async def _delete(conn: Statements, p: DeleteProgram, params: Sequence[Any]) -> Result:
    sql, args = p.find.bind(params)
    found = (await conn.execute(sql, args, "rows")).rows
    for row in found:
        sql, args = p.by_key.bind(list(row[-p.width:]))
        await conn.execute(sql, args, "count")
    return Result([r[:-p.width] for r in found], len(found))


async def _keyed_update(conn: Statements, p: KeyedUpdateProgram, params: Sequence[Any]) -> Result:
    sql, args = p.write.bind(params)
    done = await conn.execute(sql, args, "count")
    if done.rowcount < 1:
        return Result([], 0)
    key = tuple(_signed(conn.lastrowid) if i is None else _encode(enc, params[i]) for i, enc in p.key)
    return await _reread(conn, p.re, [key])


async def _upsert(conn: Statements, p: UpsertProgram, params: Sequence[Any]) -> Result:
    sql, args = p.write.bind(params)
    done = await conn.execute(sql, args, "count")
    if p.re is None:
        return done
    result = await _reread(conn, p.re, [tuple(_encode(enc, params[i]) for i, enc in p.lookup)])
    if not result.rows:
        # ON DUPLICATE KEY fires on ANY unique key: no row matches the lookup, so the insert
        # collided on another key and updated that row. Refuse like the other backends; the
        # caller's transaction or savepoint undoes the update.
        raise UpsertCollision(
            "Duplicate entry: the upsert's create values collide with another record on a "
            "unique key other than the where lookup"
        )
    return result
