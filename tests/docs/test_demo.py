"""The README's ``make demo``: farmorm.demo runs, and runs again on the same database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from farmorm.demo import run_demo
from farmorm.testing.databases import TestDatabase

from ..conftest import backend_problem, selected_backends

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_COUNTS = {
    "user": 2,
    "project": 1,
    "project_membership": 2,
    "route_cache": 2,
    "webhook_delivery": 2,
    "job_run": 1,
}


async def _run(url: str) -> list[str]:
    lines: list[str] = []
    await run_demo(url, out=lines.append)
    return lines


def _after(lines: list[str], title_part: str) -> list[str]:
    """The record lines printed under the step whose title contains ``title_part``."""
    for i, line in enumerate(lines):
        if line[:1].isdigit() and title_part in line:
            out = []
            for rec in lines[i + 1:]:
                if not rec.startswith("   "):
                    break
                out.append(rec.strip())
            return out
    raise AssertionError(f"no step containing {title_part!r} in:\n" + "\n".join(lines))


def _check(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert all(isinstance(line, str) for line in lines)
    assert lines[0].startswith("1. Connected to "), text
    # steps are numbered 1, 2, 3, ... in order
    numbers = [int(line.split(".", 1)[0]) for line in lines if line[:1].isdigit()]
    assert numbers == list(range(1, len(numbers) + 1)), text

    assert "Project slug 'acme' is already taken (409)" in text
    assert "owner memberships left behind: 0" in text, text
    assert "Email 'ada@example.com' is already registered (409)" in text

    project = json.loads(_after(lines, "find_project_by_slug('acme')")[0])
    assert project["slug"] == "acme" and project["owner"] == {"email": "ada@example.com"}
    assert project["memberships"] == [
        {"role": "owner", "user": {"name": "Ada"}},
        {"role": "admin", "user": {"name": "Grace"}},
    ]

    inserted = json.loads(_after(lines, "(insert)")[0])
    updated = json.loads(_after(lines, "(update, same row)")[0])
    assert inserted["payload"] == {"title": "Acme Site", "version": 1}
    assert updated["path"] == "/projects/acme"
    assert updated["payload"] == {"title": "Acme Site", "version": 2, "members": ["Ada", "Grace"]}
    assert updated["expires_at"] > inserted["expires_at"]
    assert json.loads(_after(lines, "Cache hit")[0]) == updated["payload"]
    assert "(1 row)" in text
    assert "Expired entry /old is a miss: None" in text

    failed, delivered = (json.loads(r) for r in _after(lines, "webhook attempts"))
    assert failed == {"url": "https://hooks.example.com/deploy", "attempt": 1, "status": "failed",
                      "last_error": "HTTP 502 from receiver"}
    assert delivered["attempt"] == 2 and delivered["status"] == "delivered" and delivered["last_error"] is None

    queued = json.loads(_after(lines, "Queued a job run")[0])
    assert queued == {"name": "rebuild-search-index", "status": "queued",
                      "payload": {"project": "acme", "full": True}, "started_at": None}
    assert json.loads(_after(lines, "Started it")[0]) == {"status": "running", "started": True}
    assert "a second claim gets None" in text
    assert json.loads(_after(lines, "Finished it")[0]) == {"status": "done", "finished_after_start": True}
    assert json.loads(_after(lines, "Row counts")[0]) == EXPECTED_COUNTS


@pytest.mark.parametrize("backend", selected_backends())
async def test_demo_runs_twice_on_the_same_database(backend: str) -> None:
    """``make demo DATABASE_URL=...`` on every backend, on a throwaway database."""
    problem = backend_problem(backend)
    if problem:
        pytest.skip(problem)
    db = TestDatabase(backend)
    await db.create()
    url = db.url  # a runtime target's raw client is not used: the demo takes a URL
    try:
        first = await _run(url)
        _check(first)
        assert json.loads(_after(first, "earlier runs")[0]) == {}

        second = await _run(url)
        _check(second)
        # the second run found the first run's rows and removed them before starting over
        assert json.loads(_after(second, "earlier runs")[0]) == EXPECTED_COUNTS
    finally:
        await db.drop()


def test_demo_command_line(tmp_path: Path) -> None:
    """``python -m farmorm.demo URL`` (what ``make demo`` runs) exits 0 and prints the steps."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-m", "farmorm.demo", url],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Project slug 'acme' is already taken (409)" in proc.stdout
    assert not (tmp_path / "farmorm-demo.db").exists()  # the URL argument was used, not the default
