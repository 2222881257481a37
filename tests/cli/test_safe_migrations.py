"""``farmorm db generate`` refuses the hazards of autogenerate, on every SQL backend: data loss
(dropped column or table holding data), renames seen as drop + add (``--rename``), a required
column added to a table with rows, and empty revisions; plus ``db current``, ``history``, ``stamp``."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import cli, write_project
from .test_migrations import _rows

pytest.importorskip("alembic")

#: the users table in variants chosen by $VARIANT (v1 when unset)
SCHEMA = '''
import os
from farmorm import define_schema, model
from farmorm import fields as f

VARIANT = os.environ.get("VARIANT", "v1")
name = "full_name" if VARIANT == "rename" else "name"
fields = {"id": f.id(), "email": f.string().unique(), name: f.string(), "bio": f.string().nullable()}
if VARIANT == "drop":
    del fields["bio"]
if VARIANT == "required":
    fields["nickname"] = f.string()
if VARIANT == "required_default":
    fields["nickname"] = f.string().default("anon")
models = {"user": model(table="users", fields=fields, constraints={"indexes": [[name]]})}
if VARIANT == "extra_table":
    models["note"] = model(table="notes", fields={"id": f.id(), "text": f.string()})
schema = define_schema(**models)
'''

CONFIG = '''
from farmorm.config import define_config
from app_schema import name, schema


async def seed(orm):
    await orm.user.create(data={"id": "u1", "email": "ada@example.com", name: "Ada"})
    await orm.user.create(data={"id": "u2", "email": "grace@example.com", name: "Grace"})


define_config(schemas=[schema], targets={}, database_url="sqlite:///app.db")
'''


def _project(root: Path, url: str) -> list[str]:
    write_project(root, CONFIG, SCHEMA)
    cli(root, "push", "--url", url)
    cli(root, "db", "seed", "--url", url)
    cli(root, "db", "init")
    return ["--url", url]


def _generate(root: Path, url: list[str], variant: str, *args: str, check: int | None = 0) -> tuple[str, str, list[Path]]:
    proc = cli(root, "db", "generate", "-m", variant, *url, *args, env={"VARIANT": variant}, check=check)
    assert "Traceback" not in proc.stderr
    return proc.stdout, proc.stderr, sorted((root / "migrations" / "versions").glob(f"*_{variant}.py"))


async def test_rename_keeps_the_data(tmp_path: Path, database_url: str) -> None:
    url = _project(tmp_path, database_url)
    _, err, files = _generate(tmp_path, url, "rename", check=1)
    assert "error [UNSAFE_MIGRATION]" in err and files == []
    assert "dropping column users.name loses the data it holds. If it was renamed, pass --rename users.name:full_name." in err

    bad = cli(tmp_path, "db", "generate", "-m", "x", *url, "--rename", "users.nope:full_name",
              env={"VARIANT": "rename"}, check=1)
    assert "error [RENAME_ERROR]" in bad.stderr

    out, _, files = _generate(tmp_path, url, "rename", "--rename", "users.name:full_name")
    assert "Renames column users.name -> full_name" in out
    text = files[0].read_text()
    assert "new_column_name='full_name'" in text and "drop_column" not in text and "add_column" not in text

    cli(tmp_path, "db", "migrate", *url, env={"VARIANT": "rename"})
    assert await _rows(database_url, "SELECT id, full_name FROM users ORDER BY id") == [("u1", "Ada"), ("u2", "Grace")]
    cli(tmp_path, "db", "doctor", *url, env={"VARIANT": "rename"})  # exit 0: no drift
    cli(tmp_path, "db", "downgrade", *url, env={"VARIANT": "rename"})
    assert await _rows(database_url, "SELECT id, name FROM users ORDER BY id") == [("u1", "Ada"), ("u2", "Grace")]
    cli(tmp_path, "db", "doctor", *url)


async def test_dropping_data_is_refused_unless_allowed(tmp_path: Path, database_url: str) -> None:
    url = _project(tmp_path, database_url)
    # bio is NULL in every row: dropping it loses nothing, a warning only
    out, err, files = _generate(tmp_path, url, "drop")
    assert "warning: drops column users.bio." in err and len(files) == 1
    files[0].unlink()

    await _rows(database_url, "UPDATE users SET bio = 'kept' WHERE id = 'u1'")
    _, err, files = _generate(tmp_path, url, "drop", check=1)
    assert "dropping column users.bio loses the data it holds." in err and files == []
    out, err, files = _generate(tmp_path, url, "drop", "--allow-data-loss")
    assert "warning: drops column users.bio." in err and "op.drop_column('users', 'bio')" in files[0].read_text()
    files[0].unlink()

    # a table the schema no longer has: refused while it has rows
    cli(tmp_path, "push", *url, env={"VARIANT": "extra_table"})
    await _rows(database_url, "INSERT INTO notes (id, text) VALUES ('n1', 'keep me')")
    _, err, _ = _generate(tmp_path, url, "v1b", check=1)
    assert "dropping table notes loses its rows." in err


async def test_required_column_on_a_table_with_rows(tmp_path: Path, database_url: str) -> None:
    url = _project(tmp_path, database_url)
    _, err, files = _generate(tmp_path, url, "required", check=1)
    assert "adds required column users.nickname without a default" in err and "(the table has rows)" in err
    assert ".default(...)" in err and files == []

    # with a default, the server default fills the existing rows: safe, and migrate works
    out, err, files = _generate(tmp_path, url, "required_default")
    assert len(files) == 1 and "warning" not in err
    cli(tmp_path, "db", "migrate", *url, env={"VARIANT": "required_default"})
    assert await _rows(database_url, "SELECT id, nickname FROM users ORDER BY id") == [("u1", "anon"), ("u2", "anon")]


async def test_empty_revision_current_history_and_stamp(tmp_path: Path, database_url: str) -> None:
    url = _project(tmp_path, database_url)
    assert "no revision" in cli(tmp_path, "db", "current", *url).stdout
    assert "No revisions yet" in cli(tmp_path, "db", "history", *url).stdout
    # the tables were pushed as v1: nothing to generate, refused unless asked
    _, err, files = _generate(tmp_path, url, "v1", check=1)
    assert "error [NO_CHANGES]" in err and "hint: Pass --allow-empty" in err and files == []
    out, _, [first] = _generate(tmp_path, url, "v1", "--allow-empty")
    assert f"Generated migration at {first}" in out
    rev1 = first.name.split("_")[0]

    # stamp the empty first revision instead of running it (the tables exist), then go on
    assert f"Stamped the database at {rev1}." in cli(tmp_path, "db", "stamp", rev1, *url).stdout
    _, _, [second] = _generate(tmp_path, url, "required_default")
    rev2 = second.name.split("_")[0]
    assert f"{rev1}: 1 revision to apply (newest {rev2})." in cli(tmp_path, "db", "current", *url).stdout
    history = cli(tmp_path, "db", "history", *url).stdout.splitlines()
    assert history == [f"{rev1} -> {rev2} (head): required_default", f"<base> -> {rev1} (current): v1"]

    cli(tmp_path, "db", "migrate", *url, env={"VARIANT": "required_default"})
    assert f"{rev2} (head): the database is up to date." in cli(tmp_path, "db", "current", *url).stdout
    assert "Stamped the database at base." in cli(tmp_path, "db", "stamp", "base", *url).stdout
    bad = cli(tmp_path, "db", "stamp", "nope", *url, check=1)
    assert "error [MIGRATION_ERROR]" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize(("text", "parsed"), [
    ("users.name:full_name", ("users", "name", "full_name", None)),
    ("users.name:users.full_name", ("users", "name", "full_name", None)),
    ("auth.users.name:full_name", ("users", "name", "full_name", "auth")),
])
def test_rename_parse(text: str, parsed: tuple[str, str, str, str | None]) -> None:
    from farmorm.migrations.safety import Rename

    r = Rename.parse(text)
    assert (r.table, r.old, r.new, r.schema) == parsed


@pytest.mark.parametrize("text", ["users:members", "name:full_name", "users.name:", "users.name:posts.name", "a.b.c.d:e"])
def test_rename_parse_refuses(text: str) -> None:
    from farmorm.migrations.safety import Rename, RenameError

    with pytest.raises(RenameError, match="Bad --rename"):
        Rename.parse(text)
