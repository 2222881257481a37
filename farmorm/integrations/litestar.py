"""Litestar on farmorm: one plugin gives the lifespan, the ``orm`` and ``tx`` dependencies and the
problem+json error handlers (docs/litestar.md)::

    from litestar import Litestar, post
    from farmorm.integrations.litestar import FarmormPlugin

    @post("/users")
    async def create_user(data: UserIn, tx: Orm) -> dict:
        return await tx.user.create(data=msgspec.structs.asdict(data))   # committed before the response

    app = Litestar([create_user], plugins=[FarmormPlugin(schema, "postgresql://app@db/app")])

Needs ``pip install 'farmorm[litestar]'``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, AsyncIterator

from litestar import Litestar, Request, Response
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins import InitPluginProtocol

from farmorm.core.errors import OrmError
from farmorm.runtime import Orm
from farmorm.schema.manifest import Schema

from ._lifecycle import Database, open_orm, orm_from_state
from .problems import Problem, problem_for_error, problem_for_status, problem_for_validation

STATE_KEY = "orm"


async def provide_orm(state: State) -> Orm:
    """Dependency ``orm``: the app's ORM."""
    return orm_from_state(state, STATE_KEY)


async def provide_transaction(state: State) -> AsyncGenerator[Orm, None]:
    """Dependency ``tx``: a transaction for the request; commits when the handler returns, rolls back
    when it raises (Litestar throws the handler's exception into this generator)."""
    async with orm_from_state(state, STATE_KEY).transaction() as tx:
        yield tx


def problem_response(problem: Problem) -> Response[Any]:
    """A ``Problem`` as a Litestar response (``application/problem+json``)."""
    return Response(problem.body, status_code=problem.status, headers=problem.headers or None,
                    media_type=problem.media_type)


def orm_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """``OrmError`` -> problem response (409 conflicts, 404, 422, 503 + Retry-After, 504, else 500)."""
    assert isinstance(exc, OrmError)
    return problem_response(problem_for_error(exc))


def validation_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Litestar's request validation (400 by default) -> 422 in the same problem shape."""
    assert isinstance(exc, ValidationException)
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = [{"loc": [e.get("source", "body"), *str(e.get("key", "")).split(".")], "message": e.get("message", "")}
              for e in extra if isinstance(e, dict)]
    return problem_response(problem_for_validation(errors))


def http_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """``HTTPException`` (an unknown route, a wrong method, your own) -> the same problem shape."""
    assert isinstance(exc, HTTPException)
    detail = exc.detail or None
    return problem_response(problem_for_status(exc.status_code, detail, exc.headers))


class FarmormPlugin(InitPluginProtocol):
    """Opens the ORM for the app's life (``app.state.orm``), provides ``orm`` and ``tx``, and answers
    errors with problem+json. ``database``: a URL, a client, or a callable making one
    (``lambda: asyncpg.create_pool(url)``: the pool is closed after the ORM). ``push`` pushes the
    schema at start-up (development); ``options`` go to ``create_orm``."""

    def __init__(self, schema: Schema, database: Database, *, push: bool = False, error_handlers: bool = True,
                 **options: Any) -> None:
        self.schema = schema
        self.database = database
        self.push = push
        self.error_handlers = error_handlers
        self.options = options

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        """Open the ORM at start-up, close it at shutdown."""
        async with open_orm(self.schema, self.database, push=self.push, **self.options) as orm:
            setattr(app.state, STATE_KEY, orm)
            try:
                yield
            finally:
                setattr(app.state, STATE_KEY, None)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register the lifespan, the dependencies and (unless ``error_handlers=False``) the handlers."""
        app_config.lifespan.insert(0, self.lifespan)
        app_config.dependencies.setdefault("orm", Provide(provide_orm))
        app_config.dependencies.setdefault("tx", Provide(provide_transaction))
        if self.error_handlers:
            app_config.exception_handlers.setdefault(OrmError, orm_error_handler)
            app_config.exception_handlers.setdefault(ValidationException, validation_error_handler)
            app_config.exception_handlers.setdefault(HTTPException, http_error_handler)
        return app_config


__all__ = ["FarmormPlugin", "provide_orm", "provide_transaction", "orm_error_handler", "validation_error_handler",
           "http_error_handler", "problem_response", "STATE_KEY"]
