"""farmorm's FastAPI and Litestar integrations through a real ASGI server (uvicorn on a free port,
real HTTP requests), on SQLite and PostgreSQL: the lifespan, the ORM and transaction dependencies,
and one problem+json shape for every error (the ORM's, the framework's validation, an unknown route)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import httpx
import pytest
import uvicorn  # the dev extras install it: its absence fails, never skips

from farmorm.testing.databases import TestDatabase

from ..conftest import backend_problem, required_backends, selected_backends
from .apps import COMMITTED, fastapi_app, litestar_app

# the test app declares Litestar handlers in the style every 2.x accepts (2.23 deprecates inferred kwargs)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PROBLEM_KEYS = {"type", "title", "status", "code", "detail"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a thread (its own event loop), lifespan on."""

    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="on",
                                                    log_level="warning", access_log=False))
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # noqa: BLE001 - uvicorn exits (SystemExit) when the lifespan fails
            self.failure = exc

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start: {self.failure!r} (see the log above)")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "uvicorn did not stop"


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
        return
    if "postgres" not in selected_backends() and "postgres" not in required_backends():
        pytest.skip("postgres is not in FARMORM_BACKENDS")
    problem = backend_problem("postgres")
    if problem:
        if "postgres" in required_backends():
            pytest.fail(problem)
        pytest.skip(problem)
    db = TestDatabase("postgres")
    url = await db.create()
    try:
        yield url
    finally:
        await db.drop()


@pytest.fixture(params=["fastapi", "litestar"])
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(framework: str, database_url: str) -> Iterator[Server]:
    make = fastapi_app if framework == "fastapi" else litestar_app
    with Server(make(database_url)) as running:
        yield running


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the one error shape; returns the body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json", r.headers
    body = r.json()
    assert PROBLEM_KEYS <= set(body) and set(body) - PROBLEM_KEYS <= {"errors", "current_version"}, body
    assert body["type"] == "about:blank" and body["status"] == status and body["code"] == code, body
    return body


async def test_requests_transactions_and_errors(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        r = await http.post("/authors", json={"email": "ada@example.com", "name": "Ada"})
        assert r.status_code == 201, r.text
        ada = r.json()
        r = await http.get(f"/authors/{ada['id']}")
        assert r.status_code == 200 and r.json()["name"] == "Ada"

        body = problem(await http.post("/authors", json={"email": "ada@example.com", "name": "Again"}),
                       409, "UNIQUE_CONSTRAINT_VIOLATION")
        assert body["detail"] == "The request conflicts with existing data." and body["title"] == "Conflict"

        body = problem(await http.get("/authors/nobody"), 404, "NOT_FOUND")
        assert body["detail"] == 'Author "nobody" not found.'

        # the ORM's own validation and the framework's request validation: the same 422 shape
        body = problem(await http.get("/articles", params={"first": 0}), 422, "VALIDATION_ERROR")
        assert "first" in body["detail"] and "errors" not in body
        body = problem(await http.post("/authors", json={"email": "grace@example.com"}), 422, "VALIDATION_ERROR")
        assert any("name" in e["loc"] or "name" in e["message"] for e in body["errors"]), body
        assert all(set(e) == {"loc", "message"} for e in body["errors"])

        # an unknown route: the framework's 404, same shape
        problem(await http.get("/no/such/route"), 404, "NOT_FOUND")

        # per-request transaction: both rows commit before the response ...
        r = await http.post("/authors-with-article", json={"email": "grace@example.com", "name": "Grace", "slug": "cobol"})
        assert r.status_code == 201, r.text
        assert (await http.get("/count")).json() == {"authors": 2, "articles": 2 - 1}
        # ... and a failing second write rolls the first back (the slug is taken)
        problem(await http.post("/authors-with-article",
                                json={"email": "linus@example.com", "name": "Linus", "slug": "cobol"}),
                409, "UNIQUE_CONSTRAINT_VIOLATION")
        assert (await http.get("/count")).json() == {"authors": 2, "articles": 1}

        # the transaction commits (its on_commit hook included) before the response is sent
        email = f"slow-{server.port}@example.com"
        assert (await http.post(f"/slow-commit/{email}")).status_code == 201
        assert email in COMMITTED


@pytest.mark.parametrize("framework", ["fastapi", "litestar"])
def test_unreachable_database_fails_startup(framework: str) -> None:
    """The lifespan opens the ORM: a dead database stops the server from starting, loudly."""
    make = fastapi_app if framework == "fastapi" else litestar_app
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = Server(make(f"postgresql://postgres@127.0.0.1:{port}/none"))
    with pytest.raises(RuntimeError, match="did not start"):
        with srv:
            pass
    assert not srv.server.started
