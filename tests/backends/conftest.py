"""Fixtures for backend-specific tests: a fresh PostgreSQL database per test, or a skip."""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from farmorm.testing.databases import TestDatabase

from ..conftest import backend_problem, required_backends, selected_backends


def require(backend: str) -> None:
    """Skip unless ``backend`` is selected and usable (FARMORM_REQUIRE already failed the session)."""
    if backend not in selected_backends() and backend not in required_backends():
        pytest.skip(f"{backend} is not in FARMORM_BACKENDS")
    problem = backend_problem(backend)
    if problem:
        pytest.skip(problem)


@pytest.fixture
def postgres() -> None:
    """Skip unless PostgreSQL is usable (a sync fixture: the probe runs its own event loop)."""
    require("postgres")


@pytest.fixture
async def pg_url(postgres: None) -> AsyncIterator[str]:
    """The URL of a fresh PostgreSQL database, dropped afterwards."""
    db = TestDatabase("postgres")
    url = await db.create()
    try:
        yield url
    finally:
        await db.drop()
