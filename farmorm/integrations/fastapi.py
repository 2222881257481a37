"""FastAPI on farmorm: a lifespan, dependencies for the ORM or a per-request transaction, and
exception handlers that give every error one problem+json shape (docs/fastapi.md)::

    from fastapi import FastAPI
    from farmorm.integrations.fastapi import OrmDep, TransactionDep, farmorm_lifespan, install_error_handlers

    app = FastAPI(lifespan=farmorm_lifespan(schema, "postgresql://app@db/app"))
    install_error_handlers(app)

    @app.post("/users", status_code=201)
    async def create_user(payload: UserIn, tx: TransactionDep) -> dict:
        return await tx.user.create(data=payload.model_dump())   # committed before the response

Needs ``pip install 'farmorm[fastapi]'``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Annotated, Any, AsyncIterator, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from farmorm.core.errors import OrmError
from farmorm.runtime import Orm
from farmorm.schema.manifest import Schema

from ._lifecycle import Database, open_orm, orm_from_state
from .problems import Problem, problem_for_error, problem_for_status, problem_for_validation

STATE_KEY = "orm"


def farmorm_lifespan(schema: Schema, database: Database, *, push: bool = False,
                     lifespan: Callable[[FastAPI], Any] | None = None,
                     **options: Any) -> Callable[[FastAPI], Any]:
    """A FastAPI ``lifespan``: ``create_orm(schema, database, **options)`` at start-up, stored on
    ``app.state.orm``, closed at shutdown. ``database`` is a URL, a client, or a callable
    making one (``lambda: asyncpg.create_pool(url)``: the pool is closed after the ORM). ``push``
    pushes the schema (development). An app ``lifespan`` of your own runs inside, with the ORM open."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[Any]:
        async with open_orm(schema, database, push=push, **options) as orm:
            setattr(app.state, STATE_KEY, orm)
            try:
                if lifespan is None:
                    yield None
                else:
                    async with lifespan(app) as state:
                        yield state
            finally:
                setattr(app.state, STATE_KEY, None)

    return run


def get_orm(request: Request) -> Orm:
    """Dependency: the app's ORM (``orm: Orm = Depends(get_orm)``, or the ``OrmDep`` annotation)."""
    return orm_from_state(request.app.state, STATE_KEY)


async def get_transaction(request: Request) -> AsyncIterator[Orm]:
    """Dependency: a transaction for the request. It commits when the endpoint returns and rolls back
    when it raises. Use it through ``TransactionDep`` (or ``Depends(get_transaction, scope="function")``),
    which commits before the response is sent, so a failed commit is the response."""
    async with get_orm(request).transaction() as tx:
        yield tx


OrmDep = Annotated[Orm, Depends(get_orm)]
#: scope="function" (FastAPI 0.121+): the dependency exits, so the transaction commits, before the
#: response is sent; FastAPI's default exits after it, when a failed commit can no longer be reported
TransactionDep = Annotated[Orm, Depends(get_transaction, scope="function")]


def problem_response(problem: Problem) -> JSONResponse:
    """A ``Problem`` as a FastAPI response (``application/problem+json``)."""
    return JSONResponse(problem.body, status_code=problem.status, headers=problem.headers or None,
                        media_type=problem.media_type)


async def orm_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """``OrmError`` -> problem response (409 conflicts, 404, 422, 503 + Retry-After, 504, else 500)."""
    assert isinstance(exc, OrmError)
    return problem_response(problem_for_error(exc))


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's request validation -> the same problem shape, 422, ``code`` VALIDATION_ERROR."""
    assert isinstance(exc, RequestValidationError)
    return problem_response(problem_for_validation(exc.errors()))


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """``HTTPException`` (an unknown route, a wrong method, your own) -> the same problem shape."""
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(problem_for_status(exc.status_code, detail, exc.headers))


def install_error_handlers(app: FastAPI, *, validation: bool = True, http: bool = True) -> None:
    """Answer ``OrmError`` (and, unless turned off, request validation and HTTP errors) with problem+json."""
    app.add_exception_handler(OrmError, orm_error_handler)
    if validation:
        app.add_exception_handler(RequestValidationError, validation_error_handler)
    if http:
        app.add_exception_handler(StarletteHTTPException, http_error_handler)


__all__ = ["farmorm_lifespan", "get_orm", "get_transaction", "OrmDep", "TransactionDep", "install_error_handlers",
           "orm_error_handler", "validation_error_handler", "http_error_handler", "problem_response", "STATE_KEY"]
