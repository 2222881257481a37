"""The mixed load of the scale-out tests: many tasks doing reads, writes, ``create_many``,
transactions with retries, includes and ``stream`` against one ORM for a few seconds.

Every operation's outcome is counted: ``ok`` or the error's code (a native exception that escaped
farmorm counts under its class name, so an unmapped error is visible too).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from typing import Any

from farmorm import OrmError, belongs_to, define_schema, has_many, model
from farmorm import fields as f

schema = define_schema(
    author=model(
        table="so_authors",
        fields={"id": f.id(), "name": f.string().unique(), "score": f.integer().default(0)},
        relations={"posts": has_many("post", foreign_key="author_id")},
    ),
    post=model(
        table="so_posts",
        fields={"id": f.id(), "author_id": f.string().references("author.id"), "title": f.string(),
                "views": f.integer().default(0)},
        relations={"author": belongs_to("author", foreign_key="author_id")},
    ),
)

_ids = itertools.count()


async def _one_round(orm: Any, worker: int, step: int) -> None:
    """One operation, chosen by ``step``: every kind of statement the ORM sends."""
    kind = step % 7
    name = f"w{worker}-{next(_ids)}"
    if kind == 0:
        author = await orm.author.create(data={"name": name})
        await orm.post.create(data={"author_id": author["id"], "title": f"first by {name}"})
    elif kind == 1:
        await orm.post.find_many(take=20, order_by={"title": "desc"}, include={"author": True})
    elif kind == 2:
        authors = await orm.author.find_many(take=1, order_by={"name": "asc"})
        if authors:
            await orm.post.create_many(data=[{"author_id": authors[0]["id"], "title": f"{name}-{i}"} for i in range(5)])
    elif kind == 3:
        async def bump(tx: Any) -> None:
            found = await tx.author.find_first(order_by={"name": "asc"})
            if found is not None:
                await tx.author.update(where={"id": found["id"]}, data={"score": found["score"] + 1})
            await tx.author.create(data={"name": name})
        await orm.transaction(bump, retries=10)
    elif kind == 4:
        async with orm.post.stream(order_by={"title": "asc"}, batch_size=25) as rows:
            n = 0
            async for _ in rows:
                n += 1
                if n >= 60:
                    break
    elif kind == 5:
        await orm.author.count()
        await orm.author.find_unique(where={"name": name})
    else:
        await orm.author.find_many(take=5, include={"posts": {"take": 3}})


async def mixed_load(orm: Any, *, tasks: int = 200, seconds: float = 5.0) -> collections.Counter[str]:
    """Run ``tasks`` workers for ``seconds``; returns the count of each outcome."""
    outcomes: collections.Counter[str] = collections.Counter()
    examples: dict[str, str] = {}
    deadline = time.monotonic() + seconds

    async def worker(w: int) -> None:
        step = w
        while time.monotonic() < deadline:
            try:
                await _one_round(orm, w, step)
                outcomes["ok"] += 1
            except OrmError as exc:
                outcomes[exc.code] += 1
                examples.setdefault(exc.code, str(exc)[:800])
            except Exception as exc:  # noqa: BLE001 - an unmapped native error is a finding
                outcomes[type(exc).__name__] += 1
                examples.setdefault(type(exc).__name__, str(exc)[:800])
            step += 1

    await asyncio.gather(*(worker(w) for w in range(tasks)))
    mixed_load.examples = examples  # type: ignore[attr-defined]
    return outcomes
