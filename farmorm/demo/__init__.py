"""farmorm demo: the storage layer of a small full-stack framework, on any backend.

Run it with ``python -m farmorm.demo [DATABASE_URL]`` (or ``make demo DATABASE_URL=...``); the
default is ``sqlite:///farmorm-demo.db``. It pushes one schema (users, projects, memberships, a
route cache, webhook deliveries and job runs), empties the demo tables so it can be run again,
then drives them through :class:`Store`, the kind of helper class a framework puts on top of
farmorm. Its tables are prefixed ``demo_`` so it never touches an app's own ``users`` table.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

from farmorm import (
    Orm,
    OrmError,
    belongs_to,
    create_orm,
    define_schema,
    has_many,
    model,
    fields as f,
)
from farmorm.setup import push_schema

DEFAULT_URL = "sqlite:///farmorm-demo.db"

schema = define_schema(
    user=model(
        table="demo_users",
        fields={
            "id": f.id(),
            "email": f.string().unique(),
            "name": f.string(),
            "created_at": f.datetime().default_now(),
        },
        relations={
            "projects": has_many("project", foreign_key="owner_id"),
            "memberships": has_many("project_membership", foreign_key="user_id"),
        },
    ),
    project=model(
        table="demo_projects",
        fields={
            "id": f.id(),
            "slug": f.string().unique(),
            "name": f.string(),
            "owner_id": f.string().references("user.id"),
            "created_at": f.datetime().default_now(),
        },
        relations={
            "owner": belongs_to("user", foreign_key="owner_id"),
            "memberships": has_many("project_membership", foreign_key="project_id"),
            "deliveries": has_many("webhook_delivery", foreign_key="project_id"),
        },
    ),
    project_membership=model(
        table="demo_project_memberships",
        fields={
            "id": f.id(),
            "user_id": f.string().references("user.id"),
            "project_id": f.string().references("project.id"),
            "role": f.enumeration(["owner", "admin", "member"]).default("member"),
        },
        relations={
            "user": belongs_to("user", foreign_key="user_id"),
            "project": belongs_to("project", foreign_key="project_id"),
        },
        constraints={"unique": [["user_id", "project_id"]]},
    ),
    route_cache=model(
        table="demo_route_cache",
        fields={
            "id": f.id(),
            "path": f.string().unique(),
            "payload": f.json(),
            "expires_at": f.datetime(),
        },
    ),
    webhook_delivery=model(
        table="demo_webhook_deliveries",
        fields={
            "id": f.id(),
            "project_id": f.string().references("project.id"),
            "url": f.string(),
            "attempt": f.integer(),
            "status": f.enumeration(["delivered", "failed"]),
            "last_error": f.string().nullable(),
            "created_at": f.datetime().default_now(),
        },
        relations={"project": belongs_to("project", foreign_key="project_id")},
        constraints={"indexes": [["project_id", "url"]]},
    ),
    job_run=model(
        table="demo_job_runs",
        fields={
            "id": f.id(),
            "name": f.string(),
            "status": f.enumeration(["queued", "running", "done", "failed"]).default("queued"),
            "payload": f.json(),
            "started_at": f.datetime().nullable(),
            "finished_at": f.datetime().nullable(),
        },
        constraints={"indexes": [["name", "status"]]},
    ),
)

#: Children before parents, so deleting in this order never breaks a foreign key.
RESET_ORDER = ("webhook_delivery", "project_membership", "project", "user", "route_cache", "job_run")


class HttpError(Exception):
    """What a framework turns into an HTTP response: a status and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} ({self.status})"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Store:
    """Framework helpers over the ORM: each method is one thing a request handler needs."""

    def __init__(self, orm: Orm):
        self.orm = orm

    async def reset(self) -> dict[str, int]:
        """Empty the demo tables (children first); returns rows deleted per model."""
        deleted = {}
        for name in RESET_ORDER:
            deleted[name] = await getattr(self.orm, name).delete_many(where={"id": {"not": None}})
        return deleted

    async def create_user(self, email: str, name: str) -> dict[str, Any]:
        """Sign a user up; a taken email becomes a 409."""
        try:
            return await self.orm.user.create(data={"email": email, "name": name})
        except OrmError as e:
            if e.code == "UNIQUE_CONSTRAINT_VIOLATION":
                raise HttpError(409, f"Email '{email}' is already registered") from e
            raise

    async def create_project(self, *, slug: str, name: str, owner_id: str) -> dict[str, Any]:
        """Create a project and its owner membership in one transaction; a taken slug becomes a 409."""
        try:
            async with self.orm.transaction() as tx:
                project = await tx.project.create(data={"slug": slug, "name": name, "owner_id": owner_id})
                await tx.project_membership.create(
                    data={"user_id": owner_id, "project_id": project["id"], "role": "owner"}
                )
        except OrmError as e:
            if e.code == "UNIQUE_CONSTRAINT_VIOLATION":
                raise HttpError(409, f"Project slug '{slug}' is already taken") from e
            raise
        created = await self.find_project_by_slug(slug)
        assert created is not None  # committed just above
        return created

    async def add_member(self, project_id: str, user_id: str, role: str = "member") -> dict[str, Any]:
        """Add a user to a project (the compound unique key keeps it to one membership each)."""
        return await self.orm.project_membership.upsert(
            where={"user_id": user_id, "project_id": project_id},
            create={"user_id": user_id, "project_id": project_id, "role": role},
            update={"role": role},
        )

    async def find_project_by_slug(self, slug: str) -> dict[str, Any] | None:
        """The project page's query: the project, its owner and its members, in one call."""
        found: dict[str, Any] | None = await self.orm.project.find_unique(
            where={"slug": slug},
            select={
                "id": True,
                "slug": True,
                "name": True,
                "owner": {"select": {"email": True}},
                # string ids are time-ordered (UUIDv7), so ordering by id is creation order
                "memberships": {
                    "select": {"role": True, "user": {"select": {"name": True}}},
                    "order_by": {"id": "asc"},
                },
            },
        )
        return found

    async def upsert_cached_route(self, path: str, payload: Any, ttl: timedelta) -> dict[str, Any]:
        """Store a rendered route: insert the first time, refresh payload and expiry afterwards."""
        expires_at = _now() + ttl
        return await self.orm.route_cache.upsert(
            where={"path": path},
            create={"path": path, "payload": payload, "expires_at": expires_at},
            update={"payload": payload, "expires_at": expires_at},
            select={"path": True, "payload": True, "expires_at": True},
        )

    async def get_cached_route(self, path: str) -> Any | None:
        """The cached payload for ``path`` if it has not expired, else None."""
        row = await self.orm.route_cache.find_first(
            where={"path": path, "expires_at": {"gt": _now()}}, select={"payload": True}
        )
        return None if row is None else row["payload"]

    async def record_webhook_attempt(
        self, project_id: str, url: str, *, error: str | None = None
    ) -> dict[str, Any]:
        """Log one delivery attempt; ``attempt`` counts the tries for this project and URL."""
        previous = await self.orm.webhook_delivery.count(where={"project_id": project_id, "url": url})
        return await self.orm.webhook_delivery.create(
            data={
                "project_id": project_id,
                "url": url,
                "attempt": previous + 1,
                "status": "failed" if error else "delivered",
                "last_error": error,
            },
            select={"url": True, "attempt": True, "status": True, "last_error": True},
        )

    async def create_job_run(self, name: str, payload: Any) -> dict[str, Any]:
        """Queue a job run."""
        return await self.orm.job_run.create(data={"name": name, "payload": payload})

    async def start_job_run(self, run_id: str) -> dict[str, Any] | None:
        """Claim a queued run: only a run still ``queued`` moves to ``running``."""
        claimed = await self.orm.job_run.update_many(
            where={"id": run_id, "status": "queued"}, data={"status": "running", "started_at": _now()}
        )
        return await self.orm.job_run.find_unique(where={"id": run_id}) if claimed else None

    async def finish_job_run(self, run_id: str, *, error: str | None = None) -> dict[str, Any] | None:
        """Mark a running job done (or failed) and stamp ``finished_at``."""
        return await self.orm.job_run.update(
            where={"id": run_id, "status": "running"},
            data={"status": "failed" if error else "done", "finished_at": _now()},
        )


def _show(value: Any) -> str:
    """A record (or list of them) as one readable line: JSON with datetimes and decimals as text."""

    def default(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.astimezone(timezone.utc).isoformat(timespec="seconds")
        if isinstance(v, Decimal):
            return str(v)
        return repr(v)

    return json.dumps(value, default=default, ensure_ascii=False)


def _public(record: dict[str, Any] | None) -> dict[str, Any]:
    """A record without its generated id, which differs on every run."""
    assert record is not None
    return {k: v for k, v in record.items() if k != "id"}


def _redact(url: str) -> str:
    """The URL without its password, for printing."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"


async def run_demo(url: str = DEFAULT_URL, out: Callable[[str], Any] = print) -> None:
    """Run the whole demo against ``url``, writing each step to ``out``."""
    step = 0

    def say(title: str, *records: Any) -> None:
        nonlocal step
        step += 1
        out(f"{step}. {title}")
        for record in records:
            out(f"   {_show(record)}")

    orm = await create_orm(schema, url)
    try:
        await push_schema(schema, orm)
        store = Store(orm)
        say(f"Connected to {_redact(url)} ({orm.driver.kind}, {orm.driver.dialect}) and pushed the schema")
        deleted = await store.reset()
        say("Deleted the rows earlier runs left in the demo tables", {k: n for k, n in deleted.items() if n})

        ada = await store.create_user("ada@example.com", "Ada")
        grace = await store.create_user("grace@example.com", "Grace")
        say("Created two users", {"email": ada["email"], "name": ada["name"]},
            {"email": grace["email"], "name": grace["name"]})

        project = await store.create_project(slug="acme", name="Acme Site", owner_id=ada["id"])
        say("Created project 'acme' and its owner membership in one transaction", _public(project))

        await store.add_member(project["id"], grace["id"], role="admin")
        found = await store.find_project_by_slug("acme")
        say("Added Grace as admin; find_project_by_slug('acme')", _public(found))

        try:
            await store.create_project(slug="acme", name="Another Acme", owner_id=grace["id"])
        except HttpError as e:
            orphans = await orm.project_membership.count(where={"user_id": grace["id"], "role": "owner"})
            say(f"Creating a second 'acme' fails: {e}; owner memberships left behind: {orphans}")

        try:
            await store.create_user("ada@example.com", "Ada again")
        except HttpError as e:
            say(f"Signing up twice fails: {e}")

        first = await store.upsert_cached_route("/projects/acme", {"title": "Acme Site", "version": 1},
                                                ttl=timedelta(minutes=5))
        say("Cached route /projects/acme (insert)", first)
        second = await store.upsert_cached_route(
            "/projects/acme", {"title": "Acme Site", "version": 2, "members": ["Ada", "Grace"]},
            ttl=timedelta(minutes=10),
        )
        say("Cached route /projects/acme again (update, same row)", second)
        cached = await store.get_cached_route("/projects/acme")
        rows = await orm.route_cache.count(where={"path": "/projects/acme"})
        say(f"Cache hit for /projects/acme ({rows} row)", cached)
        await store.upsert_cached_route("/old", {"stale": True}, ttl=timedelta(seconds=-1))
        say(f"Expired entry /old is a miss: {await store.get_cached_route('/old')}")

        hook = "https://hooks.example.com/deploy"
        failed = await store.record_webhook_attempt(project["id"], hook, error="HTTP 502 from receiver")
        delivered = await store.record_webhook_attempt(project["id"], hook)
        say("Recorded two webhook attempts", failed, delivered)

        run = await store.create_job_run("rebuild-search-index", {"project": "acme", "full": True})
        say("Queued a job run", {k: run[k] for k in ("name", "status", "payload", "started_at")})
        started = await store.start_job_run(run["id"])
        assert started is not None
        again = await store.start_job_run(run["id"])
        say(f"Started it (a second claim gets {again})",
            {"status": started["status"], "started": started["started_at"] is not None})
        finished = await store.finish_job_run(run["id"])
        assert finished is not None
        say("Finished it",
            {"status": finished["status"], "finished_after_start": finished["finished_at"] >= finished["started_at"]})

        summary = {
            name: await getattr(orm, name).count()
            for name in ("user", "project", "project_membership", "route_cache", "webhook_delivery", "job_run")
        }
        say("Row counts", summary)
    finally:
        await orm.close()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m farmorm.demo [DATABASE_URL]``."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    url = args[0] if args and args[0] else DEFAULT_URL
    try:
        asyncio.run(run_demo(url))
    except OrmError as e:
        print(f"demo failed: [{e.code}] {e}", file=sys.stderr)
        return 1
    return 0

