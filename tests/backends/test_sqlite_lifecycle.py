"""A process that forgets ``orm.close()`` on a SQLite URL still exits (aiosqlite's worker thread
is non-daemon; farmorm marks the thread of the connection it opens as a daemon)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio
    from farmorm import create_orm, define_schema, model, fields as f
    from farmorm.setup import push_schema

    schema = define_schema(user=model(table="users", fields={"id": f.id(), "name": f.string()}))

    async def main():
        orm = await create_orm(schema, "sqlite:///:memory:")
        await push_schema(schema, orm)
        await orm.user.create(data={"name": "ada"})
        print(await orm.user.count())  # and no orm.close()

    asyncio.run(main())
    """
)


def test_a_process_that_never_closes_its_sqlite_orm_still_exits() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
