"""The typed client under two type checkers: mypy --strict and basedpyright (strict mode).

``db_types`` is generated from tests/typing/schema.py into a temporary folder beside a copy of
tests/typing/calls.py; each checker runs once over both files (module-scoped fixtures). Every line
of calls.py marked ``# E: ...`` must be reported at that line by both checkers (``# E[pyright]:``
by basedpyright only), no other line may be, and the generated module must be clean under both
checkers and ruff.

A missing checker skips these tests, unless ``FARMORM_REQUIRE_TYPECHECKERS=1`` (.ci/run sets it):
then it fails them. Both come with the ``typing`` extra (basedpyright ships its own node).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from farmorm.generators.client import render_client

from .schema import more, schema

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
CALLS = HERE / "calls.py"
MARK = re.compile(r"(?<=\s)#\s*E(\[(?P<only>\w+)\])?:\s*(?P<what>.+)$")


def _tool(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed (pip install 'farmorm[typing]')"
        if os.environ.get("FARMORM_REQUIRE_TYPECHECKERS") == "1":
            pytest.fail(message + "; FARMORM_REQUIRE_TYPECHECKERS=1 requires it")
        pytest.skip(message)


def _expected(checker: str) -> dict[int, str]:
    """Line number -> what is wrong there, for the lines ``checker`` must report."""
    out: dict[int, str] = {}
    for number, line in enumerate(CALLS.read_text(encoding="utf-8").splitlines(), 1):
        found = MARK.search(line)
        if found and found["only"] in (None, checker):
            out[number] = found["what"].strip()
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("typed_client")
    (folder / "db_types.py").write_text(render_client(schema), encoding="utf-8")
    (folder / "more_types.py").write_text(render_client(more), encoding="utf-8")
    shutil.copy(CALLS, folder / "calls.py")
    (folder / "pyrightconfig.json").write_text(json.dumps({
        "extraPaths": [str(ROOT)], "typeCheckingMode": "strict", "pythonVersion": "3.11",
    }), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def mypy_report(project: Path) -> dict[str, dict[int, list[str]]]:
    """file name -> line -> error messages of one ``mypy --strict`` run."""
    _tool("mypy")
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    # farmorm itself is checked by `make typecheck`; here only the two files count
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--python-version", "3.11",
         "--cache-dir", str(project / ".mypy_cache"), "--show-error-codes", "--no-error-summary",
         "calls.py", "db_types.py", "more_types.py"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    report: dict[str, dict[int, list[str]]] = {"calls.py": {}, "db_types.py": {}, "more_types.py": {}}
    for line in proc.stdout.splitlines():
        found = re.match(r"^(?P<file>[\w.]+):(?P<line>\d+): error: (?P<msg>.*)$", line)
        if found:
            report.setdefault(found["file"], {}).setdefault(int(found["line"]), []).append(found["msg"])
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 2: mypy itself failed
    return report


@pytest.fixture(scope="module")
def pyright_report(project: Path) -> dict[str, dict[int, list[str]]]:
    """file name -> line -> diagnostics (errors and warnings) of one basedpyright run."""
    _tool("basedpyright")
    proc = subprocess.run(
        [sys.executable, "-m", "basedpyright", "--outputjson", "--pythonpath", sys.executable,
         "calls.py", "db_types.py", "more_types.py"],
        cwd=project, capture_output=True, text=True, timeout=600,
    )
    assert proc.stdout.strip().startswith("{"), proc.stdout + proc.stderr
    report: dict[str, dict[int, list[str]]] = {"calls.py": {}, "db_types.py": {}, "more_types.py": {}}
    for diag in json.loads(proc.stdout)["generalDiagnostics"]:
        if diag["severity"] not in ("error", "warning"):
            continue
        name = Path(diag["file"]).name
        line = diag["range"]["start"]["line"] + 1
        report.setdefault(name, {}).setdefault(line, []).append(f'{diag.get("rule", "")}: {diag["message"]}')
    return report


def _misjudged(report: dict[int, list[str]], expected: dict[int, str]) -> tuple[dict[int, str], dict[int, list[str]]]:
    missed = {line: what for line, what in expected.items() if line not in report}
    wrong = {line: msgs for line, msgs in report.items() if line not in expected}
    return missed, wrong


def test_fixture_covers_the_issue_cases() -> None:
    """The fixture keeps an incorrect call for every case the issue lists (so none is lost silently)."""
    said = " | ".join(_expected("mypy").values())
    for case in ("unknown model", "unknown field in where", "unknown field in data", "unknown field in order_by",
                 "unknown field in select", "wrong value type", "wrong enum literal", "missing required create field",
                 "operator on the wrong type"):
        assert case in said, case


def test_mypy_reports_every_incorrect_call_and_no_correct_one(mypy_report: dict[str, dict[int, list[str]]]) -> None:
    missed, wrong = _misjudged(mypy_report["calls.py"], _expected("mypy"))
    assert not missed, f"mypy accepted incorrect calls: {missed}"
    assert not wrong, f"mypy rejected correct calls: {wrong}"


def test_pyright_reports_every_incorrect_call_and_no_correct_one(
        pyright_report: dict[str, dict[int, list[str]]]) -> None:
    missed, wrong = _misjudged(pyright_report["calls.py"], _expected("pyright"))
    assert not missed, f"basedpyright accepted incorrect calls: {missed}"
    assert not wrong, f"basedpyright rejected correct calls: {wrong}"


def test_generated_module_passes_both_checkers(mypy_report: dict[str, dict[int, list[str]]],
                                               pyright_report: dict[str, dict[int, list[str]]]) -> None:
    for generated in ("db_types.py", "more_types.py"):
        assert mypy_report[generated] == {}, generated
        assert pyright_report[generated] == {}, generated


def test_generated_module_passes_ruff(project: Path) -> None:
    _tool("ruff")
    for extra in ([], ["--select", "E,F,W,I,UP,B,RUF", "--line-length", "120"]):
        proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", *extra,
                               "db_types.py", "more_types.py"], cwd=project, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
