"""The package layout shows the layers (issue "One engine between the ORM and its drivers", item 8).

The runtime's modules stay short enough to read in one sitting, and the top level holds the
public entry points only: a module there either is a documented import path with its own code
(``setup``, ``config``, ``typed``) or re-exports a folder's module under its old public name.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "farmorm"

#: the longest a runtime module may grow (docs/architecture.md)
RUNTIME_MAX_LINES = 450

#: top-level module -> the module whose public names it re-exports
SHIMS = {
    "errors": "farmorm.core.errors",
    "history": "farmorm.features.history",
    "outbox": "farmorm.features.outbox",
    "idempotency": "farmorm.features.idempotency",
    "otel": "farmorm.features.otel",
    "factories": "farmorm.features.factories",
    "fields": "farmorm.schema.fields",
}
#: documented import paths that hold their own code
ENTRY_POINTS = {"__init__", "__main__", "setup", "config", "typed"}


@pytest.mark.parametrize("path", sorted((PACKAGE / "runtime").glob("*.py")), ids=lambda p: p.name)
def test_runtime_modules_stay_short(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= RUNTIME_MAX_LINES, f"runtime/{path.name} has {lines} lines: split it by what it owns"


def test_the_top_level_holds_entry_points_and_re_exports_only() -> None:
    assert {p.stem for p in PACKAGE.glob("*.py")} == ENTRY_POINTS | set(SHIMS)


@pytest.mark.parametrize("name", sorted(SHIMS))
def test_a_top_level_re_export_is_only_imports(name: str) -> None:
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    body = tree.body[1:] if ast.get_docstring(tree) is not None else tree.body
    code = [type(stmt).__name__ for stmt in body if not isinstance(stmt, (ast.ImportFrom, ast.Assign))]
    assert code == [], f"farmorm/{name}.py should only re-export {SHIMS[name]}"
    sources = {("farmorm." if stmt.level else "") + (stmt.module or "") for stmt in body if isinstance(stmt, ast.ImportFrom)}
    assert sources == {SHIMS[name]}

@pytest.mark.parametrize("name", sorted(SHIMS))
def test_the_old_import_path_gives_the_same_objects(name: str) -> None:
    shim = importlib.import_module(f"farmorm.{name}")
    real = importlib.import_module(SHIMS[name])
    assert shim.__all__, name
    for attr in shim.__all__:
        assert getattr(shim, attr) is getattr(real, attr), f"farmorm.{name}.{attr}"
