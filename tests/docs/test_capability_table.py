"""The capability table in docs/clients.md equals the live ``Capabilities`` of each driver.

The table's header is ``| capability | sqlite | postgres | mysql |``; each row names a key (nested
groups as ``text_matching.ordering``) and its value per backend in backticks: ``True``/``False``
or a bare string. An ORM is created per backend (SQLite in memory, the servers of
``farmorm.testing.databases``); a server backend is skipped only when it is unreachable and not
listed in ``FARMORM_REQUIRE``.
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
SCHEMA = define_schema(probe=model(table="farmorm_capability_probe", fields={"id": f.id()}))


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _value(cell: str) -> Any:
    m = re.fullmatch(r"`([^`]*)`", cell)
    assert m, f"capability values must be in backticks, got {cell!r}"
    text = m.group(1)
    return {"True": True, "False": False}.get(text, text)


def documented_table(text: str) -> dict[str, dict[str, Any]]:
    """``{backend: {dotted key: value}}`` from the table whose header starts with ``| capability |``."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _cells(line)[:1] == ["capability"]), None)
    assert start is not None, "docs/clients.md has no '| capability | ... |' table"
    header = _cells(lines[start])
    assert header[1:] == list(BACKENDS), header
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


def _url(backend: str) -> str:
    return "sqlite:///:memory:" if backend == "sqlite" else server_url(backend)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_documented_capabilities_equal_the_driver(backend: str) -> None:
    problem = backend_problem(backend)
    if problem and backend not in required_backends():
        pytest.skip(problem)
    documented = documented_table(PAGE.read_text(encoding="utf-8"))[backend]
    orm = await create_orm(SCHEMA, _url(backend))  # no statement touches a table: nothing to clean up
    try:
        assert orm.driver.dialect == backend
        live = flatten(orm.driver.capabilities)
    finally:
        await orm.close()
    assert sorted(documented) == sorted(live), "the table must list every capability key, and only those"
    wrong = {k: (documented[k], live[k]) for k in live if documented[k] != live[k]}
    assert not wrong, f"docs/clients.md disagrees with the {backend} driver (documented, live): {wrong}"
