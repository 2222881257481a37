"""Every ```python block in docs/*.md runs: one test per page, blocks in order, one namespace.

Blocks may use top-level ``await``. A failing block fails the test with the page, the block
number, its first line in the page and its source. A block whose first line is ``# name.py`` is
importable as module ``name`` by the blocks after it (``from conftest import posts``), as pytest
makes a project's ``conftest.py`` importable. Pages whose name starts with "_" are working
notes and are skipped. Use ```text or ```bash for code that must not run, and ```py3 for Python that
is shown but not run (another library's side in the "Coming from" guides).
"""

from __future__ import annotations

import ast
import inspect
import linecache
import re
import sys
import traceback
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
MODULE_BLOCK = re.compile(r"# (\w+)\.py\s*\n")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown page as (first line number, source), in order."""
    blocks: list[tuple[int, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m["fence"], len(m["indent"])
        lang = (m["info"].split() or [""])[0].lower()
        start = i + 1
        j = start
        while j < len(lines):
            close = FENCE.match(lines[j])
            if close and close["fence"][0] == fence[0] and len(close["fence"]) >= len(fence) and not close["info"].strip():
                break
            j += 1
        if lang in ("python", "py", "python3"):
            body = [line[indent:] if line[:indent].strip() == "" else line for line in lines[start:j]]
            blocks.append((start + 1, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def doc_pages() -> list[Path]:
    pages = sorted(p for p in DOCS.glob("*.md") if not p.name.startswith("_"))
    return [p for p in pages if python_blocks(p.read_text(encoding="utf-8"))]


def test_docs_have_examples() -> None:
    """The docs exist and at least the getting-started page has runnable examples."""
    assert DOCS.is_dir(), DOCS
    assert "index.md" in [p.name for p in doc_pages()]


def test_block_parser() -> None:
    page = "text\n```python\na = 1\n```\n\n```text\n```python\nnot code\n```\n\n````py\nb = 2\n````\n"
    assert python_blocks(page) == [(3, "a = 1\n"), (12, "b = 2\n")]


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: p.name)
async def test_docs_page(page: Path) -> None:
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    ns: dict = {"__name__": "__main__", "__file__": str(page)}
    modules: dict[str, types.ModuleType] = {}
    failure = None
    try:
        for number, (line, src) in enumerate(blocks, start=1):
            filename = f"<docs/{page.name} block {number} (line {line})>"
            linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
            try:
                # dont_inherit: run as a user would, not under this module's `from __future__ import annotations`
                code = compile(src, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
                result = eval(code, ns)
                if inspect.iscoroutine(result):
                    await result
                named = MODULE_BLOCK.match(src)
                if named:
                    module = types.ModuleType(named[1])
                    module.__dict__.update(ns)
                    sys.modules[named[1]] = modules[named[1]] = module
            except Exception as exc:  # noqa: BLE001 - any failure is reported with its block
                tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                failure = (
                    f"docs/{page.name}: python block {number} of {len(blocks)} (starting at line {line}) "
                    f"raised {type(exc).__name__}: {exc}\n\n--- block source ---\n{src}\n--- traceback ---\n{tb}"
                )
                break
    finally:
        for name, module in modules.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
        orm = ns.get("orm")
        if orm is not None and hasattr(orm, "close"):
            await orm.close()
    if failure is not None:
        pytest.fail(failure, pytrace=False)
