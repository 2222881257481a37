"""Migrations on Alembic through the real ``farmorm`` command, on every SQL backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import cli

pytest.importorskip("alembic")


async def _rows(url: str, sql: str) -> list[tuple]:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from farmorm.migrations.urls import sqlalchemy_url

    engine = create_async_engine(sqlalchemy_url(url), poolclass=sa.NullPool)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.text(sql))
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def test_round_trip(project: Path, database_url: str) -> None:
    url = ["--url", database_url]
    cli(project, "push", *url)
    cli(project, "db", "seed", *url)
    assert "Created" in cli(project, "db", "init").stdout
    assert cli(project, "db", "doctor", *url).stdout.strip() == "No drift: the database matches the schema."

    # v2 adds a nullable field and an index: the doctor sees both before the migration exists
    drift = cli(project, "db", "doctor", *url, v2=True, check=1).stdout
    assert "missing column users.nickname" in drift and "missing index users_name_nickname_idx" in drift

    made = cli(project, "db", "generate", "-m", "add nickname", *url, v2=True).stdout
    revision = next(project.glob("migrations/versions/*_add_nickname.py"))
    assert f"Generated migration at {revision}" in made
    text = revision.read_text()
    assert "op.add_column('users'" in text and "'users_name_nickname_idx'" in text

    assert "Applied 1 migration." in cli(project, "db", "migrate", *url, v2=True).stdout
    rows = await _rows(database_url, "SELECT id, email, tier, nickname FROM users ORDER BY id")
    assert rows == [("u1", "ada@example.com", "free", None), ("u2", "grace@example.com", "pro", None)]
    assert (await _rows(database_url, "SELECT title FROM posts")) == [("Hello",)]
    cli(project, "db", "doctor", *url, v2=True)  # clean: exit 0
    assert "Database is up to date." in cli(project, "db", "migrate", *url, v2=True).stdout

    assert "Reverted 1 migration." in cli(project, "db", "downgrade", *url, v2=True).stdout
    cli(project, "db", "doctor", *url)  # back to v1, still clean
    assert len(await _rows(database_url, "SELECT id FROM users")) == 2


async def test_doctor_catches_a_column_dropped_by_hand(project: Path, database_url: str) -> None:
    cli(project, "push", "--url", database_url)
    await _rows(database_url, "ALTER TABLE users DROP COLUMN bio")
    proc = cli(project, "db", "doctor", "--url", database_url, check=1)
    assert "missing column users.bio" in proc.stdout


async def test_reset_drops_and_repushes(project: Path, database_url: str) -> None:
    cli(project, "push", "--url", database_url)
    cli(project, "db", "seed", "--url", database_url)
    out = cli(project, "db", "reset", "--yes", "--url", database_url).stdout
    assert "pushed 2 models" in out
    assert await _rows(database_url, "SELECT id FROM users") == []
    cli(project, "db", "doctor", "--url", database_url)


def test_reset_refuses_a_remote_database(project: Path) -> None:
    url = "postgresql://app:secret@db.example.com:5432/prod"
    proc = cli(project, "db", "reset", "--yes", "--url", url, check=1)
    assert "Refusing to reset non-local database postgresql://app:***@db.example.com:5432/prod" in proc.stderr
    assert "FARMORM_ALLOW_DATABASE_RESET=true" in proc.stderr


def test_database_url_precedence(project: Path) -> None:
    """--url beats $DATABASE_URL, which beats the config's database_url (sqlite:///app.db)."""
    cli(project, "push")
    assert (project / "app.db").is_file()
    cli(project, "push", env={"DATABASE_URL": "sqlite:///env.db"})
    assert (project / "env.db").is_file()
    cli(project, "push", "--url", "sqlite:///flag.db", env={"DATABASE_URL": "sqlite:///env.db"})
    assert (project / "flag.db").is_file()


def test_seed_without_seed_function(tmp_path: Path) -> None:
    from .conftest import CONFIG_PY, write_project

    write_project(tmp_path, CONFIG_PY.replace("async def seed(orm):", "async def _seed(orm):"))
    proc = cli(tmp_path, "db", "seed", check=1)
    assert "No seed function" in proc.stderr


def test_inspect_prints_report_and_capabilities(tmp_path: Path) -> None:
    proc = cli(tmp_path, "inspect", "sqlite:///:memory:")
    assert "Detected" in proc.stdout and "supports_transactions" in proc.stdout
