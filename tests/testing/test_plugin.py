"""The pytest plugin (farmorm.testing.plugin), tested from the outside with ``pytester``: a small
project whose tests use ``farmorm_orm``, run in a subprocess on each backend."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from farmorm.testing.databases import _mysql_args, server_url

from ..conftest import backend_problem, required_backends

pytest_plugins = ["pytester"]

PROJECT_CONFTEST = '''
import pytest
from farmorm import define_schema, define_factory, model, has_many, belongs_to, fields as f

schema = define_schema(
    user=model(table="users", fields={"id": f.id(), "email": f.string().unique()},
               relations={"posts": has_many("post", foreign_key="user_id")}),
    post=model(table="posts", fields={"id": f.id(), "user_id": f.string().references("user.id"), "title": f.string()},
               relations={"user": belongs_to("user", foreign_key="user_id")}),
)
users = define_factory(schema.models["user"], defaults=lambda seq: {"email": f"user{seq}@example.com"})
posts = define_factory(schema.models["post"], defaults=lambda seq: {"title": f"Post {seq}", "user": users})


@pytest.fixture(scope="session")
def farmorm_schema():
    return schema
'''

#: two tests that each expect an empty database: the second fails if the first's rows survive
#: (count, and the unique email user1@... made again because sequences restart per test)
ISOLATION_TESTS = '''
from conftest import posts, users

async def test_first(farmorm_orm):
    post = await posts.create(farmorm_orm)
    assert post["user"]["email"] == "user1@example.com"
    assert await farmorm_orm.user.count() == 1 and await farmorm_orm.post.count() == 1

async def test_second(farmorm_orm, farmorm_factory):
    made = await farmorm_factory(users).create_list(2)
    assert [u["email"] for u in made] == ["user1@example.com", "user2@example.com"]
    assert await farmorm_orm.user.count() == 2 and await farmorm_orm.post.count() == 0
'''

#: raw reads from a second connection, so a test can see what is committed
RAW_COUNT = '''
async def committed_users(url):
    if url.startswith("postgresql"):
        import asyncpg
        conn = await asyncpg.connect(url)
        try:
            return (await conn.fetchval("SELECT count(*) FROM users"), await conn.fetchval("SELECT current_database()"))
        finally:
            await conn.close()
    from farmorm.testing.databases import _mysql_args
    import aiomysql
    conn = await aiomysql.connect(**_mysql_args(url))
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT count(*), DATABASE() FROM users")
            return tuple(await cur.fetchone())
    finally:
        conn.close()
'''

ROLLBACK_TESTS = RAW_COUNT + '''
import pytest
from conftest import users

@pytest.mark.parametrize("n", [1, 2, 3])
async def test_in_a_transaction(farmorm_orm, farmorm_database, n):
    await users.create_list(farmorm_orm, n)
    async with farmorm_orm.transaction() as tx:          # a savepoint inside the test's transaction
        await users.create(tx)
    assert await farmorm_orm.user.count() == n + 1
    count, _ = await committed_users(farmorm_database.url)
    assert count == 0      # nothing is committed: another connection sees no row
'''

XDIST_TESTS = RAW_COUNT + '''
import json, os, pytest
from conftest import users

@pytest.mark.parametrize("n", range(6))
async def test_worker_database(farmorm_orm, farmorm_database, n):
    await users.create(farmorm_orm)
    count, current = await committed_users(farmorm_database.url)
    assert count == 1 and current == farmorm_database.name
    with open(os.environ["FARMORM_PLUGIN_LOG"], "a") as fh:
        fh.write(json.dumps([os.environ.get("PYTEST_XDIST_WORKER"), farmorm_database.name]) + "\\n")
'''

SERVER_BACKENDS = ("postgres", "mysql")


def _usable(backend: str) -> None:
    problem = backend_problem(backend)
    if problem:
        if backend in required_backends():
            pytest.fail(problem)
        pytest.skip(problem)


def _base_url(backend: str, base: str) -> str:
    from farmorm.testing.databases import _with_database

    return _with_database(server_url(backend), base)


async def _databases(backend: str, prefix: str) -> list[str]:
    """Databases on the server whose name starts with ``prefix``."""
    if backend == "postgres":
        import asyncpg

        conn = await asyncpg.connect(server_url("postgres"))
        try:
            rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%")
            return sorted(r[0] for r in rows)
        finally:
            await conn.close()
    import aiomysql

    conn = await aiomysql.connect(**_mysql_args(server_url("mysql")))
    try:
        async with conn.cursor() as cur:
            await cur.execute("SHOW DATABASES LIKE %s", (prefix + "%",))
            return sorted(r[0] for r in await cur.fetchall())
    finally:
        conn.close()


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(PROJECT_CONFTEST)
    return pytester


def _run(project: pytest.Pytester, *args: str, **env: str) -> Any:
    """Run the project's tests: in this process (fast), or in a subprocess for xdist (``-n``)."""
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    try:
        if "-n" in args:
            return project.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)
        return project.runpytest_inprocess("-p", "no:cacheprovider", *args)
    finally:
        mp.undo()



@pytest.mark.parametrize("backend", ["sqlite-memory", "sqlite-file", "mongo", *SERVER_BACKENDS])
def test_every_test_starts_on_an_empty_database(project: pytest.Pytester, backend: str, tmp_path: Path) -> None:
    base = f"farmorm_pt_{secrets.token_hex(3)}"
    if backend in SERVER_BACKENDS:
        _usable(backend)
        url = _base_url(backend, base)
    else:
        url = {"sqlite-memory": "sqlite:///:memory:", "sqlite-file": f"sqlite:///{tmp_path}/{base}.db",
               "mongo": "mongo"}[backend]
    project.makepyfile(test_isolation=ISOLATION_TESTS)
    result = _run(project, f"--farmorm-url={url}", "-v")
    result.assert_outcomes(passed=2)
    if backend in SERVER_BACKENDS:  # the worker database was dropped at the end
        assert asyncio.run(_databases(backend, base)) == []
    if backend == "sqlite-file":
        assert not list(tmp_path.glob(f"{base}*"))


def test_rollback_mode_falls_back_to_truncate_without_transactions(project: pytest.Pytester) -> None:
    """mongomock has no transactions: rollback mode must still start every test empty."""
    project.makepyfile(test_isolation=ISOLATION_TESTS)
    _run(project, "--farmorm-url=mongo", "--farmorm-isolation=rollback").assert_outcomes(passed=2)


def test_the_schema_can_come_from_the_ini_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\nfarmorm_schema = app_schema:schema\n")
    pytester.makepyfile(app_schema="from farmorm import define_schema, model, fields as f\n"
                        "schema = define_schema(note=model(table='notes', fields={'id': f.id(), 'text': f.string()}))\n")
    pytester.makepyfile(test_notes="async def test_a(farmorm_orm):\n"
                        "    await farmorm_orm.note.create(data={'text': 'hi'})\n"
                        "    assert await farmorm_orm.note.count() == 1\n")
    pytester.syspathinsert()
    _run(pytester).assert_outcomes(passed=1)


def test_a_missing_schema_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_x="async def test_a(farmorm_orm):\n    pass\n")
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*farmorm_orm needs a schema*farmorm_schema*"])


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_rollback_mode_commits_nothing(project: pytest.Pytester, backend: str) -> None:
    _usable(backend)
    base = f"farmorm_pt_{secrets.token_hex(3)}"
    project.makepyfile(test_rollback=ROLLBACK_TESTS)
    # the marker and the option both select rollback; the env var is the third way
    result = _run(project, f"--farmorm-url={_base_url(backend, base)}", "--farmorm-isolation=rollback")
    result.assert_outcomes(passed=3)
    # and truncate mode really commits (so the test above can tell the modes apart)
    result = _run(project, f"--farmorm-url={_base_url(backend, base)}", FARMORM_TEST_ISOLATION="truncate")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*assert 2 == 0*", "*assert 3 == 0*", "*assert 4 == 0*"], consecutive=False)


def test_rollback_marker_on_sqlite(project: pytest.Pytester) -> None:
    """The marker picks rollback for one test: its rows vanish though truncation never runs on memory."""
    project.makepyfile(test_marker='''
import pytest
from conftest import users
from farmorm.runtime import engine_of

@pytest.mark.farmorm(isolation="rollback")
async def test_rolled_back(farmorm_orm):
    assert type(farmorm_orm).__name__ == "Orm"
    await users.create(farmorm_orm)
    state = engine_of(farmorm_orm).state()
    assert state is not None and state.depth == 0     # inside the held transaction
''')
    _run(project, "--farmorm-url=sqlite:///:memory:").assert_outcomes(passed=1)


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_xdist_gives_each_worker_its_own_database(project: pytest.Pytester, backend: str, tmp_path: Path) -> None:
    _usable(backend)
    base = f"farmorm_pt_{secrets.token_hex(3)}"
    log = tmp_path / "workers.log"
    project.makepyfile(test_workers=XDIST_TESTS)
    result = _run(project, "-n", "2", f"--farmorm-url={_base_url(backend, base)}", FARMORM_PLUGIN_LOG=str(log))
    result.assert_outcomes(passed=6)
    seen = {tuple(json.loads(line)) for line in log.read_text().splitlines()}
    assert {w for w, _ in seen} == {"gw0", "gw1"}
    assert seen == {("gw0", f"{base}_gw0"), ("gw1", f"{base}_gw1")}
    assert asyncio.run(_databases(backend, base)) == []
