"""The read methods are typed for users of mypy: dicts without ``as_``, the Struct with it.

Checked with ``mypy --strict`` on a small module that uses the client (no database involved)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

USE = textwrap.dedent(
    """
    from typing import Any

    import msgspec

    from farmorm import Orm


    class User(msgspec.Struct):
        id: str
        email: str


    async def reads(orm: Orm) -> None:
        rows: list[dict[str, Any]] = await orm.user.find_many()
        users: list[User] = await orm.user.find_many(as_=User)
        one: User | None = await orm.user.find_unique(where={"id": "x"}, as_=User)
        first: dict[str, Any] | None = await orm.user.find_first()
        print(rows, users, one, first)
    """
)

MISUSE = textwrap.dedent(
    """
    import msgspec

    from farmorm import Orm


    class User(msgspec.Struct):
        id: str


    async def reads(orm: Orm) -> None:
        wrong: list[User] = await orm.user.find_many()  # dicts, not Users
        print(wrong)
    """
)


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "use.py").write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent", "use.py"],
        cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""}, timeout=300,
    )


def test_reads_are_typed_by_as(tmp_path: Path) -> None:
    proc = _mypy(tmp_path, USE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_dict_read_is_not_a_struct_list(tmp_path: Path) -> None:
    proc = _mypy(tmp_path, MISUSE)
    assert proc.returncode == 1 and 'list[dict[str, Any]]", variable has type "list[User]"' in proc.stdout, proc.stdout
