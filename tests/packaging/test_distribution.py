"""The sdist and wheel a release would upload: built with ``python -m build``, checked with
``twine check --strict``, and their file lists and metadata inspected (no tests or stray files,
the license inside, the extras saying what they pull)."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from pathlib import Path

import pytest

import farmorm

ROOT = Path(__file__).resolve().parents[2]

#: extra -> the distributions it pulls (exactly); docs/getting-started.md#install lists the same
EXTRAS = {
    "sqlite": {"aiosqlite"},
    "postgres": {"asyncpg"},
    "psycopg": {"psycopg", "psycopg-pool"},
    "mysql": {"aiomysql", "pymysql"},
    "asyncmy": {"asyncmy"},
    "mongo": {"pymongo"},
    "sqlalchemy": {"sqlalchemy"},
    "migrations": {"alembic", "sqlalchemy"},
    "otel": {"opentelemetry-api"},
    "testing": {"pytest", "pytest-asyncio"},
    "fastapi": {"fastapi"},
    "litestar": {"litestar"},
}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist + wheel built from a copy of the checkout's files (tracked and new, not ignored); `build`,
    `twine` and setuptools>=77 come with the dev extras (`packaging`), so their absence fails."""
    src = tmp_path_factory.mktemp("src")
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the dev environment has setuptools>=77 (the `packaging` extra); no download
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "License classifiers are deprecated" not in proc.stderr and "SetuptoolsDeprecationWarning" not in proc.stderr
    return out


def _one(dist: Path, pattern: str) -> Path:
    [found] = dist.glob(pattern)
    return found


def test_twine_check_passes(dist: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2


def test_wheel_holds_the_packages_and_nothing_else(dist: Path) -> None:
    wheel = _one(dist, f"farmorm-{farmorm.__version__}-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    info = f"farmorm-{farmorm.__version__}.dist-info/"
    assert {n.split("/")[0] for n in names} == {"farmorm", "farmorm_drivers", info.rstrip("/")}
    assert f"{info}licenses/LICENSE" in names
    assert {"farmorm/py.typed", "farmorm_drivers/py.typed", "farmorm/integrations/fastapi.py"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".db", ".so"))]
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "farmorm", "farmorm_drivers"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    missing = sorted(p for p in tracked if p.endswith(".py") and p not in names)
    assert missing == [], "modules left out of the wheel"


def test_sdist_has_no_tests_or_stray_files(dist: Path) -> None:
    sdist = _one(dist, f"farmorm-{farmorm.__version__}.tar.gz")
    prefix = f"farmorm-{farmorm.__version__}/"
    names = [n[len(prefix):] for n in tarfile.open(sdist).getnames() if n.startswith(prefix)]
    top = {n.split("/")[0] for n in names if n}
    assert top == {"farmorm", "farmorm_drivers", "farmorm.egg-info", "LICENSE", "README.md", "CHANGELOG.md",
                   "MANIFEST.in", "PKG-INFO", "pyproject.toml", "setup.cfg"}, top


def _metadata(dist: Path) -> Message:
    wheel = _one(dist, "*.whl")
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(f"farmorm-{farmorm.__version__}.dist-info/METADATA").decode()
    return email.message_from_string(text)


def test_metadata(dist: Path) -> None:
    meta = _metadata(dist)
    assert meta["Version"] == farmorm.__version__
    assert meta["License-Expression"] == "MIT" and meta.get_all("License-File") == ["LICENSE"]
    assert meta["Requires-Python"] == ">=3.11"
    classifiers = set(meta.get_all("Classifier") or [])
    assert {f"Programming Language :: Python :: 3.{v}" for v in (11, 12, 13)} <= classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # the SPDX expression replaces them
    assert meta["Author"] or meta["Author-email"]
    urls = {u.split(",")[0] for u in meta.get_all("Project-URL") or []}
    assert {"Homepage", "Repository", "Documentation", "Changelog", "Issues"} <= urls


def test_extras_say_what_they_pull(dist: Path) -> None:
    meta = _metadata(dist)
    pulled: dict[str, set[str]] = {}
    for req in meta.get_all("Requires-Dist") or []:
        if "extra ==" not in req:
            continue
        name = req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
        extra = req.split("extra ==")[1].strip().strip("'\"")
        pulled.setdefault(extra, set()).add(name)
    for extra, names in EXTRAS.items():
        assert pulled.get(extra) == names, extra
    assert pulled["all"] == {"farmorm"}  # farmorm[sqlite,postgres,...]: every driver and tool
    all_req = [r for r in meta.get_all("Requires-Dist") or [] if "extra == \"all\"" in r or "extra == 'all'" in r]
    for extra in ("sqlite", "postgres", "psycopg", "mysql", "asyncmy", "mongo", "migrations", "otel"):
        assert extra in all_req[0], (extra, all_req)
    base = {r.split(">")[0].strip().lower() for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r}
    assert base == {"msgspec", "anyio", "typer", "rich", "typing-extensions"}
