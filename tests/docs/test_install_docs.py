"""docs/getting-started.md#install says what installing farmorm pulls in: it cannot drift from pyproject.

- the paragraph on a plain ``pip install farmorm`` names every dependency of ``[project]`` and the
  unconditional dependencies those bring (as installed here: typer's change between releases);
- the extras table has a row for every extra a user installs (not the contributors' ``bench``,
  ``docs``, ``packaging``, ``typing``, ``matrix``, ``dev``), and each row names every library its
  extra lists.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
CONTRIBUTOR_EXTRAS = {"bench", "docs", "packaging", "typing", "matrix", "dev", "all"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _plain_install_paragraph() -> str:
    start = PAGE.index("A plain `pip install farmorm` brings")
    return PAGE[start:PAGE.index("\n\n", start)]


def test_the_plain_install_paragraph_names_every_dependency_and_what_they_bring() -> None:
    # issue 15.14: the page said the only dependencies were msgspec and anyio
    named = {_norm(n) for n in re.findall(r"`([A-Za-z0-9_.-]+)`", _plain_install_paragraph())}
    direct = [Requirement(r) for r in PROJECT["dependencies"]]
    missing = sorted(_norm(r.name) for r in direct if _norm(r.name) not in named)
    assert not missing, f"dependencies of pyproject.toml the install paragraph does not name: {missing}"
    brought = set()
    for req in direct:
        for sub in importlib.metadata.requires(req.name) or []:
            inner = Requirement(sub)
            if inner.marker is None:  # what every install gets, on every platform and Python
                brought.add(_norm(inner.name))
    missing = sorted(brought - named - {_norm(r.name) for r in direct})
    assert not missing, f"libraries the dependencies bring that the install paragraph does not name: {missing}"


def _extras_rows() -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in PAGE.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for extra in re.findall(r"`([a-z0-9-]+)`", cells[0]):
                rows[extra] = cells[1]
    return rows


def test_every_extra_says_what_it_installs() -> None:
    rows = _extras_rows()
    extras: dict[str, list[str]] = PROJECT["optional-dependencies"]
    user_extras = set(extras) - CONTRIBUTOR_EXTRAS
    assert user_extras <= set(rows), f"extras without a row: {sorted(user_extras - set(rows))}"
    for extra in sorted(user_extras):
        said = _norm(rows[extra])
        for requirement in extras[extra]:
            name = _norm(Requirement(requirement).name)
            assert name in said, f"the row of extra {extra!r} does not name {name!r} (it says {rows[extra]!r})"
