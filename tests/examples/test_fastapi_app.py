"""examples/fastapi_app on a fresh PostgreSQL database, driven over HTTP with httpx.

The app's lifespan runs for real (asyncpg pool, create_orm, push_schema); requests go through
``httpx.ASGITransport``. Every OrmError mapping the app promises is triggered by a request, and
the database is read directly (asyncpg) to prove what a failed request left behind: nothing.
"""

from __future__ import annotations

from typing import AsyncIterator

import asyncpg
import httpx
import pytest

from examples.fastapi_app.app import create_app
from farmorm.testing.databases import TestDatabase

from ..conftest import backend_problem, required_backends


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
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


@pytest.fixture
async def client(pg_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(pg_url)
    async with app.router.lifespan_context(app):
        orm = app.state.orm
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http
    assert orm.driver.client.is_closing()  # the lifespan closed the app's own pool


async def _count(url: str, table: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def test_crud_and_error_mapping(client: httpx.AsyncClient, pg_url: str) -> None:
    r = await client.post("/authors", json={"email": "ada@example.com", "name": "Ada"})
    assert r.status_code == 201, r.text
    ada = r.json()
    assert ada["email"] == "ada@example.com" and len(ada["id"]) == 36

    # UNIQUE_CONSTRAINT_VIOLATION -> 409, with no native message leaking out
    r = await client.post("/authors", json={"email": "ada@example.com", "name": "Ada again"})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {"type": "about:blank", "title": "Conflict", "status": 409,
                        "code": "UNIQUE_CONSTRAINT_VIOLATION", "detail": "The request conflicts with existing data."}
    assert await _count(pg_url, "api_authors") == 1

    r = await client.post("/articles", json={"author_id": ada["id"], "slug": "engine", "title": "Engine", "body": "..."})
    assert r.status_code == 201, r.text
    article = r.json()
    assert article["version"] == 1

    # FOREIGN_KEY_VIOLATION -> 409 (an article for an author that does not exist)
    r = await client.post("/articles", json={"author_id": "nobody", "slug": "orphan", "title": "x", "body": "y"})
    assert (r.status_code, r.json()["code"]) == (409, "FOREIGN_KEY_VIOLATION")
    assert await _count(pg_url, "api_articles") == 1

    # read back, with the relation
    r = await client.get(f"/authors/{ada['id']}")
    assert r.status_code == 200
    assert r.json()["articles"] == [{"slug": "engine", "title": "Engine"}]

    # NOT_FOUND -> 404
    r = await client.get("/authors/missing")
    assert r.status_code == 404
    assert r.json() == {"type": "about:blank", "title": "Not Found", "status": 404, "code": "NOT_FOUND",
                        "detail": 'Author "missing" not found.'}

    # optimistic concurrency: the right version wins, a stale one is a 409 with the current version
    r = await client.patch(f"/articles/{article['id']}", json={"title": "Engine, revised", "expected_version": 1})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["title"] == "Engine, revised"
    r = await client.patch(f"/articles/{article['id']}", json={"title": "lost update", "expected_version": 1})
    assert r.status_code == 409
    assert r.json()["code"] == "VERSION_CONFLICT" and r.json()["current_version"] == 2
    r = await client.patch("/articles/missing", json={"title": "x", "expected_version": 1})
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")

    # VALIDATION_ERROR (raised by farmorm before any I/O) -> 422 with farmorm's message
    r = await client.patch(f"/articles/{article['id']}", json={"title": "x", "expected_version": 0})
    assert r.status_code == 422
    assert r.json()["code"] == "VALIDATION_ERROR" and "expected_version" in r.json()["detail"]
    r = await client.get("/articles", params={"first": 0})
    assert r.status_code == 422
    assert r.json()["detail"] == 'Invalid first on model "article": expected a positive integer, got 0.'
    r = await client.get(f"/articles/{article['id']}")
    assert r.json()["title"] == "Engine, revised" and r.json()["version"] == 2  # nothing changed

    # FastAPI's own request validation: the same 422 problem shape, with the fields it refused
    r = await client.post("/authors", json={"email": "grace@example.com"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {k: body[k] for k in ("type", "status", "code")} == {"type": "about:blank", "status": 422,
                                                               "code": "VALIDATION_ERROR"}
    assert body["errors"] == [{"loc": ["body", "name"], "message": "Field required"}]

    # a delete the foreign key refuses -> 409; then delete in order -> 204, again -> 404
    r = await client.delete(f"/authors/{ada['id']}")
    assert (r.status_code, r.json()["code"]) == (409, "FOREIGN_KEY_VIOLATION")
    assert (await client.delete(f"/articles/{article['id']}")).status_code == 204
    assert (await client.delete(f"/articles/{article['id']}")).status_code == 404
    assert (await client.delete(f"/authors/{ada['id']}")).status_code == 204
    assert await _count(pg_url, "api_authors") == 0


async def test_cursor_pagination(client: httpx.AsyncClient) -> None:
    author = (await client.post("/authors", json={"email": "grace@example.com", "name": "Grace"})).json()
    for i in range(5):
        r = await client.post("/articles", json={"author_id": author["id"], "slug": f"s{i}", "title": f"T{i}", "body": "b"})
        assert r.status_code == 201
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        params = {"author_id": author["id"], "first": 2, **({"after": after} if after else {})}
        body = (await client.get("/articles", params=params)).json()
        pages += 1
        seen += [item["slug"] for item in body["items"]]
        assert all(item["author"] == {"name": "Grace"} for item in body["items"])
        if not body["page"]["has_more"]:
            break
        after = body["page"]["next_cursor"]
    assert pages == 3
    assert sorted(seen) == [f"s{i}" for i in range(5)] and len(seen) == 5


def test_generated_types_are_fresh() -> None:
    """examples/fastapi_app/db_types.py is what `farmorm generate client` writes for its schema."""
    from pathlib import Path

    from examples.fastapi_app.schema import schema
    from farmorm.generators.client import render_client

    path = Path(__file__).resolve().parents[2] / "examples" / "fastapi_app" / "db_types.py"
    assert path.read_text(encoding="utf-8") == render_client(schema), \
        "regenerate: farmorm generate client --out examples/fastapi_app/db_types.py"


def test_openapi_describes_the_records() -> None:
    """The generated record TypedDicts are the routes' response models: OpenAPI has their fields,
    types and required keys (no server needed to build the schema)."""
    spec = create_app("postgresql://unused").openapi()
    schemas = spec["components"]["schemas"]
    article = schemas["ArticleRecord"]
    assert article["required"] == ["id", "author_id", "slug", "title", "body", "version", "created_at"]
    assert article["properties"]["created_at"] == {"type": "string", "format": "date-time", "title": "Created At"}
    assert article["properties"]["version"]["type"] == "integer"
    assert article["properties"]["author"]["anyOf"] == [{"$ref": "#/components/schemas/AuthorRecord"},
                                                        {"type": "null"}]  # a relation: optional key
    assert "author" not in article["required"]
    ok = spec["paths"]["/articles/{article_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/ArticleRecord"}
    created = spec["paths"]["/authors"]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"] == {"$ref": "#/components/schemas/AuthorRecord"}
    page = schemas["ArticlePage"]["properties"]["items"]["items"]
    assert page == {"$ref": "#/components/schemas/ArticleSummary"}
    assert schemas["ArticleSummary"]["required"] == ["id", "slug", "title", "author"]


def test_routes_type_check() -> None:
    """The app's routes pass mypy --strict against the generated types: the records they return
    are the response models they declare (a missing or mistyped field would be an error)."""
    import importlib.util
    import os
    import subprocess
    import sys
    from pathlib import Path

    if importlib.util.find_spec("mypy") is None:
        if os.environ.get("FARMORM_REQUIRE_TYPECHECKERS") == "1":
            pytest.fail("mypy is not installed; FARMORM_REQUIRE_TYPECHECKERS=1 requires it")
        pytest.skip("mypy is not installed (pip install 'farmorm[typing]')")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-error-summary",
                           "--cache-dir", os.devnull, "examples/fastapi_app"],
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
