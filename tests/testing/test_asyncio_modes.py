"""docs/testing.md's pytest example (its conftest.py and test module, taken from the page) passes under
pytest-asyncio's strict mode (its default) and auto mode, run with pytester in a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..docs.test_docs_examples import python_blocks

pytest_plugins = ["pytester"]

PAGE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def _page_files() -> tuple[str, str]:
    """The page's ``# conftest.py`` and ``# test_users.py`` blocks."""
    blocks = [src for _, src in python_blocks(PAGE.read_text(encoding="utf-8"))]
    conftest = next(b for b in blocks if b.startswith("# conftest.py"))
    tests = next(b for b in blocks if b.startswith("# test_users.py"))
    return conftest, tests


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_docs_example_in_each_asyncio_mode(pytester: pytest.Pytester, mode: str) -> None:
    # strict: no asyncio_mode line at all, i.e. pytest-asyncio's default
    ini = "[pytest]\nasyncio_default_fixture_loop_scope = function\n" + ("" if mode == "strict" else f"asyncio_mode = {mode}\n")
    pytester.makeini(ini)
    conftest, tests = _page_files()
    pytester.makeconftest(conftest)
    pytester.makepyfile(test_users=tests)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", timeout=120)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"asyncio: mode=*{mode.upper()}*"])


def test_an_unmarked_async_test_in_strict_mode_is_reported(pytester: pytest.Pytester) -> None:
    """What the docs warn about: without the marker, strict mode does not run the test."""
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    conftest, tests = _page_files()
    pytester.makeconftest(conftest)
    pytester.makepyfile(test_users=tests.replace("pytestmark = pytest.mark.asyncio", "pytestmark = []"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])
