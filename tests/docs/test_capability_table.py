"""The capability table in docs/clients.md equals the live ``Capabilities`` of each driver.

The table's header is ``| capability | sqlite (`aiosqlite`, ...) | postgres (...) | mysql (...) |``:
a dialect per column, with the runtimes (``orm.driver.kind``) the column holds for in parentheses.
Each row names a key (nested groups as ``text_matching.ordering``) and its value per dialect in
backticks: ``True``/``False`` or a bare string. An ORM is created per runtime (SQLite in memory,
the servers of ``farmorm.testing.databases``); a server backend is skipped only when it is
unreachable and not listed in ``FARMORM_REQUIRE``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from farmorm import create_orm, define_schema, model
from farmorm import fields as f
from farmorm.testing.databases import server_url

from ..conftest import backend_problem, required_backends

PAGE = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
BACKENDS = ("sqlite", "postgres", "mysql")
#: every SQL runtime kind: the table's header must name each one under its dialect
RUNTIMES = {"sqlite": ("aiosqlite", "sqlalchemy"), "postgres": ("asyncpg", "psycopg", "sqlalchemy"),
            "mysql": ("aiomysql", "asyncmy", "sqlalchemy")}
SCHEMA = define_schema(probe=model(table="farmorm_capability_probe", fields={"id": f.id()}))


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _value(cell: str) -> Any:
    m = re.fullmatch(r"`([^`]*)`", cell)
    assert m, f"capability values must be in backticks, got {cell!r}"
    text = m.group(1)
    return {"True": True, "False": False}.get(text, text)


def _column(cell: str) -> tuple[str, tuple[str, ...]]:
    """``postgres (`asyncpg`, `psycopg`)`` -> ("postgres", ("asyncpg", "psycopg"))."""
    m = re.fullmatch(r"(\w+)(?:\s*\((.*)\))?", cell)
    assert m, f"bad column header {cell!r}"
    runtimes = tuple(r.strip().strip("`") for r in (m.group(2) or "").split(",") if r.strip())
    return m.group(1), runtimes


def documented_runtimes(text: str) -> dict[str, tuple[str, ...]]:
    """``{dialect: runtimes}`` from the capability table's header."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if _cells(line)[:1] == ["capability"])
    return dict(_column(c) for c in _cells(lines[start])[1:])


def documented_table(text: str) -> dict[str, dict[str, Any]]:
    """``{backend: {dotted key: value}}`` from the table whose header starts with ``| capability |``."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _cells(line)[:1] == ["capability"]), None)
    assert start is not None, "docs/clients.md has no '| capability | ... |' table"
    header = [_column(c)[0] for c in _cells(lines[start])[1:]]
    assert header == list(BACKENDS), header
    table: dict[str, dict[str, Any]] = {b: {} for b in BACKENDS}
    for line in lines[start + 2:]:
        if not line.strip().startswith("|"):
            break
        cells = _cells(line)
        key = _value(cells[0])
        assert isinstance(key, str)
        for backend, cell in zip(BACKENDS, cells[1:], strict=True):
            assert key not in table[backend], f"{key} is listed twice"
            table[backend][key] = _value(cell)
    return table


def flatten(caps: Any, prefix: str = "") -> dict[str, Any]:
    """``Capabilities`` as ``{dotted key: value}`` (nested groups flattened)."""
    out: dict[str, Any] = {}
    for key, value in msgspec.structs.asdict(caps).items():
        if isinstance(value, msgspec.Struct):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_table_parser() -> None:
    page = "x\n| capability | sqlite | postgres | mysql |\n|---|---|---|---|\n" \
           "| `a.b` | `True` | `False` | `none` |\n\nafter\n"
    assert documented_table(page) == {"sqlite": {"a.b": True}, "postgres": {"a.b": False}, "mysql": {"a.b": "none"}}


def test_header_parser() -> None:
    page = "| capability | sqlite (`aiosqlite`, `sqlalchemy`) | postgres | mysql (`asyncmy`) |\n|---|---|---|---|\n"
    assert documented_runtimes(page) == {"sqlite": ("aiosqlite", "sqlalchemy"), "postgres": (), "mysql": ("asyncmy",)}


def test_the_header_names_every_runtime() -> None:
    assert documented_runtimes(PAGE.read_text(encoding="utf-8")) == RUNTIMES


def _url(backend: str) -> str:
    return "sqlite:///:memory:" if backend == "sqlite" else server_url(backend)


_SCHEMES = {("postgres", "psycopg"): "postgresql+psycopg", ("mysql", "asyncmy"): "mysql+asyncmy",
            ("sqlite", "sqlalchemy"): "sqlite+aiosqlite", ("postgres", "sqlalchemy"): "postgresql+asyncpg",
            ("mysql", "sqlalchemy"): "mysql+aiomysql"}


async def _open(backend: str, runtime: str) -> tuple[Any, Any]:
    """(client for create_orm, engine to dispose or None): a URL, or a SQLAlchemy engine."""
    url = _url(backend)
    scheme = _SCHEMES.get((backend, runtime))
    if scheme is None:
        return url, None
    url = scheme + ":" + url.split(":", 1)[1]
    if runtime != "sqlalchemy":
        return url, None
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    return engine, engine


CASES = [(b, r) for b in BACKENDS for r in RUNTIMES[b]]


@pytest.mark.parametrize(("backend", "runtime"), CASES, ids=[f"{b}-{r}" for b, r in CASES])
async def test_documented_capabilities_equal_the_driver(backend: str, runtime: str) -> None:
    problem = backend_problem(backend)
    if problem and backend not in required_backends():
        pytest.skip(problem)
    documented = documented_table(PAGE.read_text(encoding="utf-8"))[backend]
    client, engine = await _open(backend, runtime)
    try:
        orm = await create_orm(SCHEMA, client)  # no statement touches a table: nothing to clean up
        try:
            assert (orm.driver.dialect, orm.driver.kind) == (backend, runtime)
            live = flatten(orm.driver.capabilities)
        finally:
            await orm.close()
    finally:
        if engine is not None:
            await engine.dispose()
    assert sorted(documented) == sorted(live), "the table must list every capability key, and only those"
    wrong = {k: (documented[k], live[k]) for k in live if documented[k] != live[k]}
    assert not wrong, f"docs/clients.md disagrees with the {backend} driver (documented, live): {wrong}"
