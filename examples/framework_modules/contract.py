"""The framework's storage contract: every module's schema merged into one.

``teams`` carries ``auth`` (it was defined on auth's definitions), so auth is not listed again;
a model defined twice would be a SchemaError, which is how two modules claiming one name are
caught at import time rather than in production.
"""

from __future__ import annotations

from typing import Any, Literal

from farmorm import Orm, merge_schemas
from farmorm.generators import render_safe_sql
from farmorm.setup import bootstrap_database

from . import auth, jobs, route_cache, teams, webhooks

contract = merge_schemas(teams.schema, route_cache.schema, jobs.schema, webhooks.schema)

#: which module owns which model (for admin screens, docs and "which tables are mine")
OWNERS: dict[str, str] = {
    **{name: "auth" for name in auth.schema.models},
    **{name: "teams" for name in teams.MODELS},
    **{name: "route_cache" for name in route_cache.schema.models},
    **{name: "jobs" for name in jobs.schema.models},
    **{name: "webhooks" for name in webhooks.schema.models},
}


async def open_storage(client: Any, **options: Any) -> Orm:
    """Push the contract (idempotent) and return the ORM: what the framework calls at startup."""
    return await bootstrap_database(contract, client, **options)


def ddl(dialect: Literal["postgres", "mysql", "sqlite"]) -> str:
    """The contract's CREATE TABLE / CREATE INDEX script, for a DBA or a migration review."""
    return render_safe_sql(contract, dialect=dialect)
