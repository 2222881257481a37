"""``farmorm_drivers.mysql.literals`` writes exactly the statement text aiomysql would."""

from __future__ import annotations

import datetime as dt
import decimal
import enum

import pytest

aiomysql = pytest.importorskip("aiomysql")
from hypothesis import given, strategies as st  # noqa: E402

from farmorm_drivers.mysql.literals import NO_BACKSLASH_ESCAPES, interpolated  # noqa: E402


def connection(status: int = 0) -> object:
    """An aiomysql connection that never connected: ``escape`` reads only these two attributes."""
    conn = object.__new__(aiomysql.Connection)
    conn.server_status = status
    conn._charset = "utf8mb4"
    conn._writer = None  # never connected: nothing for __del__ to close
    return conn


def aiomysql_text(conn: object, sql: str, args: list[object]) -> str:
    """What ``aiomysql.Cursor.execute(sql, args)`` sends (its ``mogrify``)."""
    return sql % tuple(conn.escape(a) for a in args)  # type: ignore[attr-defined]


class Level(enum.IntEnum):
    HIGH = 3


class Name(str):
    pass


VALUES = [
    "plain", "", "it's", 'say "hi"', "back\\slash", "nul\x00byte", "line\nbreak\r\n", "ctrl-z\x1a", "50% off",
    "émoji 🎉", Name("o'sub"), 0, -1, 2**63 - 1, -(2**63), True, False, None, Level.HIGH,
    dt.datetime(2026, 12, 7, 20, 30), dt.datetime(1, 1, 1, 0, 0, 0, 1), dt.date(2026, 1, 2),
    decimal.Decimal("1.50"), 2.5,
]


def test_every_kind_of_value_is_written_as_aiomysql_writes_it() -> None:
    conn = connection()
    sql = ", ".join(["%s"] * len(VALUES))
    assert interpolated(conn, sql, VALUES) == aiomysql_text(conn, sql, VALUES)


@given(st.lists(st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.datetimes()), max_size=12))
def test_any_text_int_bool_null_and_datetime_row_matches(values: list[object]) -> None:
    conn = connection()
    sql = "INSERT INTO t VALUES (" + ", ".join(["%s"] * len(values)) + ")"
    assert interpolated(conn, sql, values) == aiomysql_text(conn, sql, values)


def test_a_connection_that_doubles_quotes_is_left_to_aiomysql() -> None:
    assert interpolated(connection(NO_BACKSLASH_ESCAPES), "%s", ["it's"]) is None
