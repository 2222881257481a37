"""``python -m benchmarks.pg_app_pool``: get_by_pk through farmorm on a pool the app made (asyncpg's
release-time reset kept, as farmorm keeps it on any pool it did not open) against the same lookup on
a raw asyncpg pool, interleaved rounds, on a scratch database ``farmorm_apppool`` (dropped and made
anew). The suite's runner gives farmorm a URL, so its pool skips that reset after clean operations
and runs above the floor; this is the figure for an app that hands farmorm its own pool
(docs/performance.md, "the re-measured table")."""
import asyncio, time, statistics, asyncpg
from farmorm import create_orm, define_schema, model, fields as f
from farmorm.setup import push_schema

import os
URL = os.environ.get("FARMORM_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
S = define_schema(user=model(table="apppool_users", fields={"id": f.id(), "email": f.string().unique(), "name": f.string(), "age": f.integer()}))

async def main():
    admin = await asyncpg.connect(URL)
    await admin.execute("DROP DATABASE IF EXISTS farmorm_apppool"); await admin.execute("CREATE DATABASE farmorm_apppool"); await admin.close()
    url = URL.rsplit("/", 1)[0] + "/farmorm_apppool"
    pool = await asyncpg.create_pool(url, min_size=10, max_size=10)
    orm = await create_orm(S, pool)
    await push_schema(S, orm)
    ids = [r["id"] for r in await orm.user.create_many(data=[{"email": f"u{i}@x", "name": f"n{i}", "age": i % 90} for i in range(2000)])]
    raw_pool = await asyncpg.create_pool(url, min_size=10, max_size=10)
    n = 2000
    async def raw():
        for i in range(n):
            async with raw_pool.acquire() as c:
                await c.fetchrow('SELECT id, email, name, age FROM apppool_users WHERE id = $1', ids[i % len(ids)])
    async def farm():
        for i in range(n):
            await orm.user.find_unique(where={"id": ids[i % len(ids)]})
    await raw(); await farm()
    ratios = []
    for _ in range(9):
        t = time.perf_counter(); await raw(); tr = time.perf_counter() - t
        t = time.perf_counter(); await farm(); tf = time.perf_counter() - t
        ratios.append(tr / tf)
        print(f"raw {n/tr:.0f}/s farmorm(app pool) {n/tf:.0f}/s ratio {tr/tf:.2f}")
    print("median ratio", round(statistics.median(ratios), 2))
    await orm.close(); await pool.close(); await raw_pool.close()

asyncio.run(main())
