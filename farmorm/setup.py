"""Setup helpers: create what the schema needs, idempotently (``push_schema``), then connect.

They accept an ``Orm`` or anything ``create_orm`` accepts (a raw client or a URL); when given a
URL they open a connection for the job and close it afterwards.
"""

from __future__ import annotations

from typing import Any

from .core.errors import OrmError, SchemaError, UnsupportedError
from .runtime.orm import Orm, create_driver, create_orm, engine_of
from .schema.manifest import Schema


class RuntimeSetupError(Exception):
    """A setup helper failed: ``stage`` ("push", "apply", "bootstrap"), runtime kind, dialect, statement."""

    def __init__(self, message: str, *, stage: str, runtime_kind: str | None, dialect: str | None,
                 statement: str | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.runtime_kind = runtime_kind
        self.dialect = dialect
        self.statement = statement


def _refused(stage: str, exc: Exception, kind: str | None, dialect: str | None) -> RuntimeSetupError:
    """The setup error wrapping a schema the backend refuses (e.g. a namespaced table on SQLite)."""
    kind = kind or getattr(exc, "backend_kind", None)
    dialect = dialect or getattr(exc, "dialect", None)
    where = f"{kind} ({dialect})" if dialect else (kind or "the")
    helper = "bootstrap_database" if stage == "bootstrap" else f"{stage}_schema"
    return RuntimeSetupError(
        f"{helper}() failed for {where} runtime. {exc}", stage=stage, runtime_kind=kind, dialect=dialect,
    )


async def _push(stage: str, schema: Schema, client: Any, **options: Any) -> None:
    # a schema the backend cannot hold (UNSUPPORTED, SCHEMA_ERROR) is a setup failure like any
    # other: the helpers promise RuntimeSetupError with its stage, the refusal as its __cause__;
    # connection and URL errors keep their own types (the CLI turns them into hints)
    if isinstance(client, Orm):
        driver, owned = engine_of(client).driver, False
        try:
            driver.check_schema(schema)  # the schema pushed may not be the one the client was made with
        except (UnsupportedError, SchemaError) as exc:
            raise _refused(stage, exc, driver.handle.kind, driver.handle.dialect) from exc
    else:
        try:
            driver, owned = await create_driver(schema, client, **options), True
        except (UnsupportedError, SchemaError) as exc:
            raise _refused(stage, exc, None, None) from exc
    kind, dialect = driver.handle.kind, driver.handle.dialect
    try:
        await driver.push_schema(schema)
    except RuntimeSetupError:
        raise
    except Exception as exc:
        mapped = exc if isinstance(exc, OrmError) else driver.map_error(exc)
        detail = str(mapped or exc)
        where = f"{kind} ({dialect})" if dialect else kind
        raise RuntimeSetupError(
            f"{stage}_schema() failed for {where} runtime. {detail}",
            stage=stage, runtime_kind=kind, dialect=dialect, statement=getattr(exc, "farmorm_statement", None),
        ) from exc
    finally:
        if owned:
            await driver.close()


async def push_schema(schema: Schema, client: Any, **options: Any) -> None:
    """Create missing tables, keys and indexes for ``schema`` (safe to run again)."""
    await _push("push", schema, client, **options)


async def apply_schema(schema: Schema, client: Any, **options: Any) -> None:
    """Same as ``push_schema`` (the reference keeps both names; errors say ``apply``)."""
    await _push("apply", schema, client, **options)


async def bootstrap_database(schema: Schema, client: Any, **options: Any) -> Orm:
    """``push_schema`` then ``create_orm``: one call to get a ready client."""
    try:
        orm = await create_orm(schema, client, **options)
    except (UnsupportedError, SchemaError) as exc:
        raise _refused("bootstrap", exc, None, None) from exc
    try:
        await push_schema(schema, orm)
    except BaseException:
        await orm.close()
        raise
    return orm


__all__ = ["push_schema", "apply_schema", "bootstrap_database", "RuntimeSetupError"]
