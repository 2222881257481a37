"""`farmorm db migrate` on MongoDB: create missing indexes, report extra ones, drop only with --prune.

Runs in-process (typer's CliRunner) because a mongomock:// store lives in one process.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from farmorm import create_orm, define_schema, model
from farmorm import fields as f
from farmorm.cli import app
from farmorm.testing.mongomock_async import drop_store

CONFIG = '''
from farmorm import define_schema, model, fields as f
from farmorm.config import define_config

schema = define_schema(
    user=model(table="users", fields={"id": f.id().map("_id"), "email": f.string().unique(), "name": f.string()},
               constraints={"indexes": [["name"]]}),
)
config = define_config(schemas=[schema], targets={}, database_url="mongomock://migrate/app")
'''


def test_db_migrate_syncs_mongo_indexes(tmp_path: Path) -> None:
    (tmp_path / "farmorm_config.py").write_text(CONFIG)
    cfg = str(tmp_path / "farmorm_config.py")
    runner = CliRunner()
    try:
        first = runner.invoke(app, ["db", "migrate", "-c", cfg])
        assert first.exit_code == 0, first.output
        assert "Created index users.users_email_unique" in first.output
        assert "Created index users.users_name_idx" in first.output

        again = runner.invoke(app, ["db", "migrate", "-c", cfg])
        assert again.exit_code == 0 and "Indexes are in sync." in again.output

        # an index the schema does not declare is reported, and kept without --prune
        stray = define_schema(user=model(table="users", fields={"id": f.id().map("_id"), "nick": f.string().unique()}))

        async def add_stray_index() -> None:
            orm = await create_orm(stray, "mongomock://migrate/app")
            await orm._driver.push_schema(stray)
            await orm.close()

        asyncio.run(add_stray_index())
        report = runner.invoke(app, ["db", "migrate", "-c", cfg])
        assert "Extra index (use --prune to drop): users.users_nick_unique" in report.output
        kept = runner.invoke(app, ["db", "migrate", "-c", cfg])
        assert "users.users_nick_unique" in kept.output

        pruned = runner.invoke(app, ["db", "migrate", "-c", cfg, "--prune"])
        assert pruned.exit_code == 0, pruned.output
        assert "Dropped users.users_nick_unique" in pruned.output
        assert "Indexes are in sync." in runner.invoke(app, ["db", "migrate", "-c", cfg]).output
    finally:
        drop_store("mongomock://migrate/app")
