"""Fixtures of the reliability suite: ``backend``, ``rig`` (a :class:`Rig`), ``orm``.

See ``tests/reliability/harness.py`` (its module docstring) for the whole harness API. Every test
here gets a hard timeout (pytest-timeout: 60 s, 900 s for ``@pytest.mark.soak``; a test's own
``@pytest.mark.timeout`` wins), ``error::ResourceWarning``, and the loop in debug mode.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from farmorm import Orm, Schema, create_orm
from farmorm.setup import push_schema
from farmorm.testing.databases import TestDatabase, server_url

from ..conftest import ALL_BACKENDS, backend_problem, selected_backends
from .harness import (
    ACCOUNTS,
    Admin,
    FaultProxy,
    LeakBaseline,
    assert_clean,
    new_tag,
    seed_accounts,
    with_query,
)

HERE = Path(__file__).parent
DEFAULT_TIMEOUT = 60
SOAK_TIMEOUT = 900


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in Path(str(item.fspath)).parents:
            continue
        if item.get_closest_marker("timeout") is None:
            soak = item.get_closest_marker("soak") is not None
            item.add_marker(pytest.mark.timeout(SOAK_TIMEOUT if soak else DEFAULT_TIMEOUT))
        item.add_marker(pytest.mark.filterwarnings("error::ResourceWarning"))
        item.add_marker(pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"))


def reliability_backends() -> list[str]:
    """The selected backends (runtime targets such as ``postgres-psycopg`` are the conformance
    suite's business; the reliability cases run on the URL-opened default runtimes)."""
    return [b for b in selected_backends() if b in ALL_BACKENDS]


@pytest.fixture(params=reliability_backends())
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    problem = backend_problem(name)
    if problem:
        pytest.skip(problem)  # FARMORM_REQUIRE turned this into a usage error at session start
    return name


class Rig:
    """One test's databases, ORMs, proxies and admin; cleaned and leak-checked at teardown."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.tag = new_tag()
        self.db = TestDatabase(backend)
        self._created = False
        self.orms: list[tuple[Orm, str | None]] = []
        self.proxies: list[FaultProxy] = []
        self._admin: Admin | None = None
        self.baseline: LeakBaseline | None = None
        #: set False in a test that deliberately leaves the pool dirty (a negative control)
        self.check_clean = True

    async def database_url(self) -> str:
        if not self._created:
            await self.db.create()
            self._created = True
        return self.db.url

    @property
    def sqlite_path(self) -> str | None:
        if self.backend != "sqlite" or not self.db.url:
            return None
        return self.db.url.split("sqlite:///", 1)[1]

    async def url(self, *, tag: str | None = None, via: FaultProxy | None = None, pool: int | None = None,
                  min_pool: int | None = None) -> str:
        """The test database's URL with the session tag (and MySQL pool sizes), through ``via``."""
        url = await self.database_url()
        tag = tag or self.tag
        if self.backend == "postgres":
            url = with_query(url, application_name=tag)
        elif self.backend == "mysql":
            url = with_query(url, program_name=tag, maxsize=pool, minsize=min_pool if pool else None)
        if via is not None:
            url = via.url(url)
        return url

    async def orm(self, schema: Schema = ACCOUNTS, *, seed: bool = True, pool: int | None = 4,
                  min_pool: int | None = None, via: FaultProxy | None = None, tag: str | None = None,
                  push: bool = True, **options: Any) -> Orm:
        """An ORM on the test database (``schema`` pushed; ACCOUNTS seeded unless ``seed=False``).

        ``pool`` is the max pool size, ``min_pool`` its min (default: ``pool``, a warm pool);
        other keyword arguments go to ``create_orm`` (``acquire_timeout``, ``command_timeout``...)."""
        if min_pool is None and pool is not None:
            min_pool = pool
        url = await self.url(tag=tag, via=via, pool=pool, min_pool=min_pool)
        if self.backend == "postgres" and pool is not None:
            options.setdefault("max_size", pool)
            options.setdefault("min_size", min_pool)
        options = {k: v for k, v in options.items() if v is not None}
        orm = await create_orm(schema, url, **options)
        self.orms.append((orm, tag))
        if push:
            await push_schema(schema, orm)
            if seed and schema is ACCOUNTS:
                await seed_accounts(orm)
        return orm

    async def proxy(self) -> FaultProxy:
        """A FaultProxy in front of this backend's server (closed at teardown)."""
        from urllib.parse import urlsplit

        if self.backend not in ("postgres", "mysql", "mongo"):
            raise RuntimeError(f"no TCP server to proxy for {self.backend}")
        base = os.environ.get("FARMORM_MONGO_URL", "") if self.backend == "mongo" else server_url(self.backend)
        parts = urlsplit(base)
        default_port = {"postgres": 5432, "mysql": 3306, "mongo": 27017}[self.backend]
        proxy = await FaultProxy.start(parts.hostname or "127.0.0.1", parts.port or default_port)
        self.proxies.append(proxy)
        return proxy

    async def admin(self) -> Admin:
        if self._admin is None:
            await self.database_url()
            self._admin = await Admin.open(self.backend, self.db.name, sqlite_path=self.sqlite_path)
        return self._admin

    async def forget(self, orm: Orm) -> None:
        """Close ``orm`` now (it is then not checked at teardown)."""
        self.orms = [(o, t) for o, t in self.orms if o is not orm]
        await orm.close()

    async def teardown(self) -> None:
        failures: list[BaseException] = []
        admin = None
        try:
            if self.check_clean and self._created:
                admin = await self.admin()
                for orm, _tag in self.orms:
                    try:
                        await assert_clean(orm, admin)
                    except BaseException as exc:  # noqa: BLE001 - report after cleaning up
                        failures.append(exc)
        finally:
            for orm, _tag in reversed(self.orms):
                try:
                    await asyncio.wait_for(orm.close(), 15)
                except BaseException as exc:  # noqa: BLE001
                    failures.append(exc)
            for proxy in self.proxies:
                await proxy.close()
            if self._admin is not None:
                await self._admin.close()
            if self._created:
                await self.db.drop()
        if failures:
            raise failures[0]


@pytest.fixture
async def rig(backend: str) -> AsyncIterator[Rig]:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 10.0  # debug mode for its checks, not for slow-callback noise
    r = Rig(backend)
    r.baseline = LeakBaseline.take()
    try:
        yield r
        await r.teardown()
        await r.baseline.assert_restored()
    finally:
        r.baseline.stop()


@pytest.fixture
async def orm(rig: Rig) -> Orm:
    """The ACCOUNTS schema on a fresh database, seeded (pool of 4)."""
    return await rig.orm()
