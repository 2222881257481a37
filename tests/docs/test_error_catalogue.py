"""The error catalogue in docs/errors.md cannot drift from ``farmorm.errors`` or the drivers' maps.

Two tables are checked:

- the codes table (header ``| code | subclass | when |``): exactly the codes of
  ``farmorm.errors.CODES``, once each, each with the exception class whose ``code`` it is, and
  **retryable** in bold exactly for ``RETRYABLE_CODES``;
- the native-errors table (header ``| code | PostgreSQL ... | MySQL ... | SQLite ... | MongoDB ... |``):
  every native code a driver maps (PostgreSQL SQLSTATEs, MySQL/MariaDB error numbers, SQLite
  result-code names, MongoDB ``code == N`` checks) is listed in the row of the farmorm code it maps
  to, and every native code listed there maps to that farmorm code.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import farmorm.core.errors as errors
import farmorm_drivers.mongo.errors as mongo_errors
import farmorm_drivers.sqlite.driver as sqlite_driver
from farmorm_drivers.mysql.errors import CODES as MYSQL_CODES
from farmorm_drivers.postgres.errors import BY_SQLSTATE

PAGE = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
NATIVE = {  # column header prefix -> how a native code is written in a cell
    "PostgreSQL": re.compile(r"`([0-9A-Z]{5})`"),
    "MySQL": re.compile(r"`(\d{4})`"),
    "SQLite": re.compile(r"`(SQLITE_[A-Z_]+)`"),
    "MongoDB": re.compile(r"`(\d+)`"),
}


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def table(text: str, header_start: list[str]) -> list[dict[str, str]]:
    """The rows (as ``{header: cell}``) of the first table whose header starts with ``header_start``."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("|") and [c.split(" (")[0] for c in _cells(line)][:len(header_start)] == header_start:
            header = _cells(line)
            rows = []
            for row in lines[i + 2:]:
                if not row.lstrip().startswith("|"):
                    break
                rows.append(dict(zip(header, _cells(row), strict=True)))
            return rows
    raise AssertionError(f"docs/errors.md has no table whose header starts with {header_start}")


def _code(cell: str) -> str:
    m = re.fullmatch(r"`([A-Z_]+)`", cell)
    assert m, f"the code column holds one backticked code, got {cell!r}"
    return m.group(1)


def mongo_map() -> dict[int, str]:
    """``{native code: farmorm code}`` from the ``code == N`` tests of the Mongo error mapper."""
    source = inspect.getsource(mongo_errors)
    pairs = re.findall(r"if code == (\d+)[^\n]*\n\s+(?:meta\.update\([^\n]*\n\s+)?return native_error\((\w+)", source)
    return {int(n): getattr(errors, name) for n, name in pairs}


def test_table_parser() -> None:
    page = "x\n| code | subclass | when |\n|---|---|---|\n| `A` | `B` | c |\n\nafter | x |\n"
    assert table(page, ["code", "subclass"]) == [{"code": "`A`", "subclass": "`B`", "when": "c"}]
    assert mongo_map()[11000] == errors.UNIQUE_CONSTRAINT_VIOLATION


def test_every_code_is_listed_once_with_its_class() -> None:
    rows = table(PAGE.read_text(encoding="utf-8"), ["code", "subclass"])
    listed = [_code(r["code"]) for r in rows]
    assert len(listed) == len(set(listed)), f"listed twice: {sorted({c for c in listed if listed.count(c) > 1})}"
    assert sorted(listed) == sorted(errors.CODES), (
        f"missing: {sorted(set(errors.CODES) - set(listed))}, unknown: {sorted(set(listed) - set(errors.CODES))}")
    for row in rows:
        code = _code(row["code"])
        name = re.match(r"`(?:farmorm\.errors\.)?(\w+)`", row["subclass"])
        assert name, f"{code}: the subclass column starts with the class name in backticks"
        cls = getattr(errors, name.group(1), None)
        assert isinstance(cls, type) and issubclass(cls, errors.OrmError) and cls.code == code, (code, name.group(1))
        documented_retryable = "**retryable**" in row["when"]
        assert documented_retryable == (code in errors.RETRYABLE_CODES), (
            f"{code}: the table says retryable={documented_retryable}, RETRYABLE_CODES says {not documented_retryable}")


def _native_rows() -> dict[str, dict[str, str]]:
    rows = table(PAGE.read_text(encoding="utf-8"), ["code", "PostgreSQL", "MySQL / MariaDB", "SQLite", "MongoDB"])
    out = {_code(r["code"]): r for r in rows}
    assert len(out) == len(rows) and set(out) <= set(errors.CODES), sorted(set(out) - set(errors.CODES))
    return out


def _check(column: str, mapping: dict[str, str]) -> None:
    rows = _native_rows()
    header = next(h for h in next(iter(rows.values())) if h.startswith(column))
    listed = {code: set(NATIVE[column].findall(row[header])) for code, row in rows.items()}
    missing = {native: code for native, code in mapping.items() if native not in listed.get(code, set())}
    assert not missing, f"{column}: native codes the driver maps but the table does not list (native: code): {missing}"
    wrong = {(code, native): mapping.get(native) for code, natives in listed.items() for native in natives
             if mapping.get(native) != code}
    assert not wrong, f"{column}: listed under a code the driver does not map them to ((listed, native): mapped): {wrong}"


def test_postgres_sqlstates() -> None:
    _check("PostgreSQL", dict(BY_SQLSTATE))


def test_mysql_error_numbers() -> None:
    _check("MySQL", {str(n): code for n, code in MYSQL_CODES.items()})


def test_sqlite_result_codes() -> None:
    _check("SQLite", dict(sqlite_driver._BY_NAME))


def test_mongo_codes() -> None:
    _check("MongoDB", {str(n): code for n, code in mongo_map().items()})
