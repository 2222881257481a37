"""``farmorm db seed`` runs the config's named seeds (all or ``--only``) and still runs ``seed(orm)``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..cli.conftest import CONFIG_PY, cli, write_project

SEEDS_CONFIG = '''
from farmorm import define_factory, define_seed
from farmorm.config import define_config
from app_schema import schema

users = define_factory(schema.models["user"], defaults=lambda seq: {"email": f"u{seq}@example.com", "name": f"U{seq}"})


async def make_users(orm):
    await users.create_list(orm, 2)


async def make_posts(orm):
    author = await orm.user.find_first(order_by={"email": "asc"})
    await orm.post.create(data={"user_id": author["id"], "title": "Hello"})


users_seed = define_seed("users", run=make_users)
posts_seed = define_seed("posts", run=make_posts)
define_config(schemas=[schema], targets={}, database_url="sqlite:///app.db")
'''


def _counts(root: Path) -> tuple[int, int]:
    with sqlite3.connect(root / "app.db") as conn:
        return (conn.execute("SELECT count(*) FROM users").fetchone()[0],
                conn.execute("SELECT count(*) FROM posts").fetchone()[0])


def test_only_runs_the_named_seeds(tmp_path: Path) -> None:
    write_project(tmp_path, SEEDS_CONFIG)
    cli(tmp_path, "push")
    assert "Seeded the database: users." in cli(tmp_path, "db", "seed", "--only", "users").stdout
    assert _counts(tmp_path) == (2, 0)
    cli(tmp_path, "db", "seed", "--only", "posts")
    assert _counts(tmp_path) == (2, 1)
    proc = cli(tmp_path, "db", "seed", "--only", "users,nope", check=1)
    assert 'Unknown seed "nope". Known seeds: users, posts.' in proc.stderr
    assert _counts(tmp_path) == (2, 1)          # refused before anything ran


def test_all_seeds_then_the_seed_function(tmp_path: Path) -> None:
    both = SEEDS_CONFIG.replace("define_config(", CONFIG_PY.split("define_config(")[0].split("from app_schema import schema")[1]
                                + "\ndefine_config(")
    assert "async def seed(orm):" in both
    write_project(tmp_path, both)
    cli(tmp_path, "push")
    assert "Seeded the database: users, posts, seed." in cli(tmp_path, "db", "seed").stdout
    assert _counts(tmp_path) == (4, 2)   # 2 + Ada and Grace; Hello twice


def test_the_seed_function_alone_still_works(tmp_path: Path) -> None:
    write_project(tmp_path)
    cli(tmp_path, "push")
    assert "Seeded the database." in cli(tmp_path, "db", "seed").stdout
    assert _counts(tmp_path) == (2, 1)
