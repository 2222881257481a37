"""docs/architecture.md names real code: its walks cannot rot unnoticed.

Every file path the page names must exist, and every function, method or class the two walks (a
``find_many`` and a ``create`` through the layers) name in backticks must still be there:
``module.function`` (``query.parse.parse_read``, a module named by its last parts),
``Class.method`` (``Scope.__aenter__``) or a bare class name (``EchoInsertProgram``).
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "architecture.md"
PACKAGES = ("farmorm", "farmorm_drivers")

_SPAN = re.compile(r"`([^`\n]+)`")
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
_CLASS = re.compile(r"[A-Z][a-z]\w*")
_PATH = re.compile(r"[\w.]+(/[\w.]+)*/?")


@cache
def _modules() -> tuple[str, ...]:
    """Every module of farmorm and farmorm_drivers by dotted name (``__main__`` left out: it runs)."""
    names = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__main__":
                continue
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return tuple(sorted(names))


def _lookup(module: str, attrs: list[str]) -> bool:
    try:
        found: Any = importlib.import_module(module)
        for attr in attrs:
            found = getattr(found, attr)
    except (ImportError, AttributeError):
        return False
    return True


def _defining(name: str) -> list[str]:
    """The modules whose source defines class ``name``."""
    pattern = re.compile(rf"^class {re.escape(name)}\b", re.M)
    return [m for m in _modules()
            if pattern.search(_source(m))]


@cache
def _source(module: str) -> str:
    base = ROOT.joinpath(*module.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    return path.read_text()


def resolves(name: str) -> bool:
    """Does ``name`` (``a.b.func``, ``Class.method`` or ``Class``) name something in the code?"""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:cut])
        for module in _modules():
            if (module == prefix or module.endswith("." + prefix)) and _lookup(module, parts[cut:]):
                return True
    return any(_lookup(module, parts) for module in _defining(parts[0]))


def path_exists(path: str) -> bool:
    """A path as the page writes it: from the repository root, or inside farmorm/ or farmorm_drivers/."""
    return any((base / path).exists() for base in (ROOT, ROOT / "farmorm", ROOT / "farmorm_drivers"))


def _walks() -> str:
    text = PAGE.read_text()
    sections = re.split(r"^## ", text, flags=re.M)
    walks = [s for s in sections if s.startswith("Walk of")]
    assert len(walks) == 2, "the page should walk a find_many and a create"
    return "\n".join(walks)


def _names() -> list[str]:
    out = []
    for span in _SPAN.findall(_walks()):
        span = span.removesuffix("()")
        if (_DOTTED.fullmatch(span) and not span.endswith(".py")) or _CLASS.fullmatch(span):
            out.append(span)
    return sorted(set(out))


def _paths() -> list[str]:
    spans = _SPAN.findall(PAGE.read_text())
    return sorted({s for s in spans if "/" in s and _PATH.fullmatch(s) and not s.startswith("/")})


def test_the_walks_name_enough_to_check() -> None:
    names = _names()
    assert len(names) >= 30, names  # the extraction works: a page change that loses it fails here
    assert "query.parse.parse_read" in names and "Scope.__aenter__" in names


@pytest.mark.parametrize("name", _names())
def test_each_name_in_the_walks_exists(name: str) -> None:
    assert resolves(name), f"docs/architecture.md's walk names {name!r}, which the code no longer has"


@pytest.mark.parametrize("path", _paths())
def test_each_path_on_the_page_exists(path: str) -> None:
    assert path_exists(path), f"docs/architecture.md names {path!r}, which does not exist"


def test_a_stale_name_or_path_is_caught() -> None:
    assert resolves("Engine.read") and resolves("query.plan.stitch") and resolves("EchoInsertProgram")
    assert not resolves("Engine.no_such_method")
    assert not resolves("query.parse.no_such_function")
    assert not resolves("NoSuchClass")
    assert path_exists("runtime/engine.py") and not path_exists("runtime/no_such_module.py")


def test_the_page_is_in_the_site_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text().split("\nnav:", 1)[1]
    assert "architecture.md" in nav
