"""The docs site builds with ``mkdocs build --strict`` (what ``make docs`` and CI run).

Strict mode turns every warning into a failure: a page missing from ``nav`` (or a nav entry
without its page), a link to a page that does not exist and an anchor that moved all fail here.
The build goes to a temporary directory so the checkout stays clean.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "mkdocs.yml"


def _nav_pages(nav: object) -> list[str]:
    """Every page path named in a mkdocs ``nav`` tree, in order."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [p for item in nav for p in _nav_pages(item)]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in _nav_pages(value)]
    return []


def test_nav_parser() -> None:
    nav = [{"Home": "index.md"}, {"Guide": [{"Schema": "schema.md"}, "queries.md"]}]
    assert _nav_pages(nav) == ["index.md", "schema.md", "queries.md"]


def test_every_user_page_is_in_the_nav() -> None:
    """A page in docs/ that nav leaves out is unreachable from the site's menu."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    in_nav = set(_nav_pages(config["nav"]))
    pages = {p.name for p in (ROOT / "docs").glob("*.md") if not p.name.startswith("_")}
    assert pages - in_nav == set(), "docs pages missing from mkdocs.yml nav"


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(CONFIG), "-d", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "framework-authors" / "index.html").is_file()
    assert not (tmp_path / "site" / "_api_decisions" / "index.html").exists()  # working notes stay out
    for page in ("coming-from-sqlalchemy", "coming-from-tortoise", "coming-from-prisma", "fastapi", "litestar",
                 "versioning", "changelog"):
        assert (tmp_path / "site" / page / "index.html").is_file(), page
    # the API reference is generated from the docstrings (mkdocstrings) inside the strict build
    reference = (tmp_path / "site" / "reference" / "index.html").read_text(encoding="utf-8")
    for name in ("farmorm.create_orm", "farmorm.Orm", "farmorm.setup.push_schema", "farmorm.errors.OrmError",
                 "farmorm.integrations.fastapi.farmorm_lifespan", "farmorm.integrations.litestar.FarmormPlugin"):
        assert f'id="{name}"' in reference, name
    assert "Unreleased" in (tmp_path / "site" / "changelog" / "index.html").read_text(encoding="utf-8")
