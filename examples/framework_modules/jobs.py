"""Jobs module: a queue of job runs that workers claim exactly once. Depends on nothing."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from farmorm import Orm, define_schema, model
from farmorm import fields as f

schema = define_schema(
    job=model(
        table="fw_jobs",
        fields={
            "id": f.id(),
            "queue": f.string(),
            "name": f.string(),
            "payload": f.json(),
            "status": f.enumeration(["queued", "running", "done", "failed"]).default("queued"),
            "attempts": f.integer().default(0),
            "locked_by": f.string().nullable(),
            "last_error": f.string().nullable(),
            "created_at": f.datetime().default_now(),
            "finished_at": f.datetime().nullable(),
        },
        constraints={"indexes": [["queue", "status", "created_at"]]},
    ),
)

MAX_ATTEMPTS = 3


async def enqueue(orm: Orm, queue: str, name: str, payload: Any) -> dict[str, Any]:
    """Queue a job."""
    return await orm.job.create(data={"queue": queue, "name": name, "payload": payload})


async def claim(orm: Orm, queue: str, worker: str) -> dict[str, Any] | None:
    """The oldest queued job of ``queue``, now running for ``worker``; None when there is none.

    The claim is a conditional write (``status == "queued"`` in its where): of two workers racing
    for one job exactly one changes a row, on every backend, without locks or transactions."""
    while True:
        candidate = await orm.job.find_first(where={"queue": queue, "status": "queued"},
                                             order_by=[{"created_at": "asc"}, {"id": "asc"}], select={"id": True})
        if candidate is None:
            return None
        won = await orm.job.update_many(where={"id": candidate["id"], "status": "queued"},
                                        data={"status": "running", "locked_by": worker})
        if won:
            job: dict[str, Any] | None = await orm.job.find_unique(where={"id": candidate["id"]})
            assert job is not None
            return job


async def finish(orm: Orm, job_id: str, *, error: str | None = None) -> dict[str, Any] | None:
    """Mark a running job done, or record the failure: queued again until MAX_ATTEMPTS, then failed."""
    job = await orm.job.find_unique(where={"id": job_id}, select={"attempts": True})
    if job is None:
        return None
    attempts = job["attempts"] + 1
    if error is None:
        data: dict[str, Any] = {"status": "done", "attempts": attempts, "locked_by": None,
                                "finished_at": datetime.now(timezone.utc)}
    else:
        data = {"status": "failed" if attempts >= MAX_ATTEMPTS else "queued", "attempts": attempts,
                "locked_by": None, "last_error": error}
    return await orm.job.update(where={"id": job_id, "status": "running"}, data=data)
