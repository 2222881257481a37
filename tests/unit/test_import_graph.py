"""The import graph has no loop, counting the imports import-linter's layer contracts cannot see as loops.

``make lint-imports`` checks the layers and that sibling modules import no loop. Two kinds of loop
it lets through are pinned here: a loop closed by a function-local import (or a ``TYPE_CHECKING``
block), and a loop between a package's ``__init__`` and its own submodule. And a function-local
import is allowed only for an optional dependency, so a new one that dodges a loop fails here
instead of hiding one (issue "One engine between the ORM and its drivers", Done when).
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]

#: what may be imported inside a function: optional dependencies (an extra each), and farmorm's
#: own modules that import one of them at their top
OPTIONAL = (
    "alembic", "sqlalchemy", "pymongo", "bson", "mongomock", "mongomock_motor", "asyncpg", "aiomysql", "asyncmy",
    "psycopg", "psycopg_pool", "aiosqlite", "pytest_asyncio",
    "farmorm.migrations.commands", "farmorm.migrations.safety", "farmorm.migrations.compare",
    "farmorm.generators.sqlalchemy", "farmorm.testing.mongomock_async",
)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & graph.modules) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_no_import_loop_in_farmorm_or_its_drivers() -> None:
    # grimp counts every import statement: function-local ones and TYPE_CHECKING blocks included
    graph = grimp.build_graph("farmorm", "farmorm_drivers", cache_dir=None)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_loop() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a")
    graph.add_import(importer="a", imported="a.b")
    graph.add_import(importer="d", imported="a")
    assert _cycles(graph) == [["a", "a.b", "a.c"]]


def _top_level(tree: ast.Module) -> set[int]:
    """The statements that run at import: the module's own, and those of a top-level try/except or if."""
    out: set[int] = set()
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        stmt = todo.pop()
        out.add(id(stmt))
        if isinstance(stmt, (ast.Try, ast.If)):
            todo += [*stmt.body, *stmt.orelse]
            if isinstance(stmt, ast.Try):
                todo += [*stmt.finalbody, *(s for h in stmt.handlers for s in h.body)]
    return out


def _nested_imports(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every import that runs later than the module's import (inside a function): the
    module's name, or ``module.name`` for a ``from module import name``."""
    tree = ast.parse(path.read_text(), str(path))
    top = _top_level(tree)
    out = []
    for node in ast.walk(tree):
        if id(node) in top:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolved against the file's package (__init__ counts as a part)
                package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-node.level])
                module = f"{package}.{module}" if module else package
            out += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return out


def test_function_local_imports_in_farmorm_are_optional_dependencies_only() -> None:
    wrong = []
    for path in sorted((ROOT / "farmorm").rglob("*.py")):
        text = path.read_text()
        assert "TYPE_CHECKING" not in text, f"{path.relative_to(ROOT)}: import at the top (there is no loop to dodge)"
        for line, module in _nested_imports(path):
            if not any(module == opt or module.startswith(opt + ".") for opt in OPTIONAL):
                wrong.append(f"{path.relative_to(ROOT)}:{line} {module}")
    assert wrong == []


def test_the_local_import_check_sees_one() -> None:
    package = ROOT / "farmorm" / "generators" / "__init__.py"
    line = next(i for i, text in enumerate(package.read_text().splitlines(), 1) if "from .sqlalchemy import" in text)
    assert _nested_imports(package) == [(line, "farmorm.generators.sqlalchemy.to_sqlalchemy_metadata")]
