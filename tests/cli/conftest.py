"""Helpers for CLI tests: a project folder with a config, the real command in a subprocess, fresh databases."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import AsyncIterator

import pytest

from farmorm.testing.databases import TestDatabase

from ..conftest import backend_problem, required_backends, selected_backends

#: the app's schema module; SCHEMA_V2=1 adds a nullable field and an index (the migration under test)
SCHEMA_PY = '''
import os
from farmorm import define_schema, model, has_many
from farmorm import fields as f

V2 = os.environ.get("SCHEMA_V2") == "1"
user_fields = {
    "id": f.id(),
    "email": f.string().unique(),
    "name": f.string(),
    "tier": f.enumeration(["free", "pro"]).default("free"),
    "login_count": f.integer().default(0).map("login_count"),
    "bio": f.string().nullable(),
}
if V2:
    user_fields["nickname"] = f.string().nullable()
schema = define_schema(
    user=model(
        table="users",
        fields=user_fields,
        relations={"posts": has_many("post", foreign_key="user_id")},
        constraints={"indexes": [["name", "nickname"]] if V2 else [["name"]]},
    ),
    post=model(
        table="posts",
        fields={
            "id": f.id(type="integer", generated="increment"),
            "user_id": f.string().references("user.id").map("user_id"),
            "title": f.string(),
            "published": f.boolean().default(False),
        },
    ),
)
'''

CONFIG_PY = '''
from farmorm.config import define_config
from app_schema import schema


async def seed(orm):
    await orm.user.create(data={"id": "u1", "email": "ada@example.com", "name": "Ada"})
    await orm.user.create(data={"id": "u2", "email": "grace@example.com", "name": "Grace", "tier": "pro"})
    await orm.post.create(data={"user_id": "u1", "title": "Hello"})


define_config(
    schemas=[schema],
    targets={
        "sql": {"out": "generated/schema.sql", "dialect": "sqlite"},
        "prisma": {"out": "prisma/schema.prisma", "provider": "sqlite"},
        "sqlalchemy": {"out": "generated/tables.py", "dialect": "postgres"},
    },
    database_url="sqlite:///app.db",
)
'''


def write_project(root: Path, config: str = CONFIG_PY, schema: str = SCHEMA_PY) -> Path:
    """Write ``app_schema.py`` and ``farmorm_config.py`` into ``root``; returns the config path."""
    (root / "app_schema.py").write_text(textwrap.dedent(schema), encoding="utf-8")
    path = root / "farmorm_config.py"
    path.write_text(textwrap.dedent(config), encoding="utf-8")
    return path


def cli(root: Path, *args: str, v2: bool = False, env: dict[str, str] | None = None,
        check: int | None = 0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m farmorm ARGS`` in ``root``; asserts the exit code when ``check`` is not None."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FARMORM_ALLOW_DATABASE_RESET")}
    full_env["SCHEMA_V2"] = "1" if v2 else "0"
    full_env["COLUMNS"] = "200"
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "farmorm", *args], cwd=root, env=full_env,
                          capture_output=True, text=True, timeout=180)
    if check is not None:
        assert proc.returncode == check, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with the test schema and config."""
    write_project(tmp_path)
    return tmp_path


def require(backend: str) -> None:
    """Skip unless ``backend`` is selected and usable (FARMORM_REQUIRE already failed the session)."""
    if backend not in selected_backends() and backend not in required_backends():
        pytest.skip(f"{backend} is not in FARMORM_BACKENDS")
    problem = backend_problem(backend)
    if problem:
        pytest.skip(problem)


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def sql_backend(request: pytest.FixtureRequest) -> str:
    """Each SQL backend in turn (skipped when unusable and not required)."""
    require(request.param)
    return str(request.param)


@pytest.fixture
async def database_url(sql_backend: str) -> AsyncIterator[str]:
    """A fresh database on the backend, dropped afterwards."""
    db = TestDatabase(sql_backend)
    url = await db.create()
    try:
        yield url
    finally:
        await db.drop()
