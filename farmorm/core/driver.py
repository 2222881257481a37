"""The driver contract: what the core asks of a backend, and what it exposes as ``orm.driver``.

Three typing ``Protocol``s are the whole contract, and nothing else of a driver is read by the core:

- :class:`DriverModule`: the plug-in module (``name``, ``dialect``, ``url_schemes``, ``inspect``,
  ``create_driver``; optionally ``candidates`` and ``needs_dialect``), found by ``core.detect``;
- :class:`DriverContract`: one backend, made by ``create_driver``: compiles nodes (pure, sync,
  cached by the core), hands out connections, maps native errors, declares its limits;
- :class:`ConnectionContract`: one connection or session: runs compiled statements, transactions,
  savepoints, cursors.

:class:`Driver` and :class:`Connection` are abstract bases implementing the contract's defaults;
the built-in drivers subclass them, a new one may too. The core never stores anything on a driver
object (closed state, deadlines and waiters live in the runtime's engine), and it never branches on
a dialect name: what differs is a capability, a declared limit or a hook.
"""

from __future__ import annotations

import abc
import inspect
import logging
import time
from dataclasses import dataclass, field
from typing import Any, AsyncContextManager, Callable, Literal, Mapping, Protocol, Sequence

import msgspec

from .errors import OrmError, UnsupportedError

_log = logging.getLogger("farmorm")
#: every executed statement at DEBUG (text, parameter count, duration, rows, error code; never values)
_sql_log = logging.getLogger("farmorm.sql")

TextSemantics = Literal["database-default", "case-sensitive", "case-insensitive"]


class TextMatching(msgspec.Struct, frozen=True):
    equality: TextSemantics = "case-sensitive"
    contains: TextSemantics = "case-sensitive"
    ordering: TextSemantics = "case-sensitive"


class Returning(msgspec.Struct, frozen=True):
    create: bool = False
    update: bool = False
    delete: bool = False


class ReturningMode(msgspec.Struct, frozen=True):
    create: Literal["none", "record"] = "none"
    update: Literal["none", "record"] = "none"
    delete: Literal["none", "record"] = "none"


class NativeRelations(msgspec.Struct, frozen=True):
    singular_chains: bool = False
    has_many: bool = False
    many_to_many: bool = False
    filtered: bool = False
    ordered: bool = False
    paginated: bool = False


class Capabilities(msgspec.Struct, frozen=True, kw_only=True):
    """What a backend can do; the reference's 16 keys in snake_case plus farmorm's own."""

    supports_numeric_ids: bool = False
    numeric_ids: Literal["none", "manual", "generated"] = "none"
    supports_json: bool = False
    supports_dates: bool = False
    supports_booleans: bool = False
    supports_transactions: bool = False
    supports_schema_namespaces: bool = False
    supports_transactional_ddl: bool = False
    supports_join: bool = False
    native_relation_loading: Literal["none", "partial", "full"] = "none"
    text_comparison: TextSemantics = "case-sensitive"
    text_matching: TextMatching = TextMatching()
    upsert: Literal["none", "emulated", "native"] = "none"
    returning: Returning = Returning()
    returning_mode: ReturningMode = ReturningMode()
    native_relations: NativeRelations = NativeRelations()
    # farmorm's own
    batched_relation_loading: bool = True
    savepoints: bool = False
    datetime_precision: Literal["microsecond", "millisecond", "second"] = "microsecond"
    bulk_insert: bool = False


@dataclass(frozen=True, eq=False)
class Detected:
    """A detected runtime: ``kind`` (library), ``client``, ``dialect`` and ``source``."""

    kind: str
    client: Any
    dialect: str | None
    source: str  # pool | connection | client | database | engine | url

    # The client compares by identity: Python 3.13's dataclass __eq__ calls the client's own __eq__,
    # which some clients refuse (an unstarted SQLAlchemy AsyncConnection raises AsyncContextNotStarted).
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Detected):
            return NotImplemented
        return (self.kind, self.dialect, self.source) == (other.kind, other.dialect, other.source) \
            and self.client is other.client

    def __hash__(self) -> int:
        return hash((self.kind, self.dialect, self.source, id(self.client)))


@dataclass(frozen=True)
class Candidate:
    """One driver's verdict on a client, with the reasons it did not match."""

    kind: str
    matched: bool
    reasons: tuple[str, ...] = ()
    detected: Detected | None = None


@dataclass(frozen=True)
class DriverHandle:
    """``orm.driver``: frozen; ``client`` is the very object passed to ``create_orm``."""

    kind: str
    dialect: str | None
    client: Any = field(repr=False)
    capabilities: Capabilities


class Result(msgspec.Struct):
    """Rows (sequences aligned with the compiled statement's ``columns``) and an affected-row count.

    ``columns`` is set for a raw statement (``kind="raw"``): the result set's own column names."""

    rows: Sequence[Sequence[Any]]
    rowcount: int = -1
    columns: Sequence[str] | None = None


class Compiled(abc.ABC):
    """A compiled statement: ``columns`` (logical names of result columns) and their ``decoders``."""

    columns: tuple[str, ...] = ()
    decoders: tuple[Callable[[Any], Any] | None, ...] = ()


Decoder = Callable[[Any], Any]
#: the attribute an inline form is kept in on a decoder function (see :func:`inline_decoder`)
_INLINE = "farmorm_inline"


def inline_decoder(decoder: Decoder, template: str, **names: Any) -> Decoder:
    """Give ``decoder`` an inline form, which the core's generated row builders write into their
    source instead of a call per value (a call costs more than most conversions): ``template``
    is a Python expression with ``{v}`` for the column's value (never None), ``{d}`` for the
    decoder itself, ``{t}`` for a scratch name (``{t} := ...``) and ``{NAME}`` for each of ``names``.
    It must give what ``decoder(v)`` gives for every value; the usual form tests the common case
    inline and falls back to ``{d}({v})``. Returns ``decoder``, which keeps working as a function."""
    setattr(decoder, _INLINE, (template, names))
    return decoder


def inline_form(decoder: Decoder, slot: str) -> tuple[str, dict[str, Any]]:
    """The expression a row builder writes for ``decoder`` on the value named ``slot`` (a
    non-None value), and the names it needs: the decoder's inline form when it has one, else a
    call. Names carry ``slot`` as a suffix, so the forms of several columns never collide."""
    d = f"d_{slot}"
    env: dict[str, Any] = {d: decoder}
    form = getattr(decoder, _INLINE, None)
    if form is None:
        return f"{d}({slot})", env
    template, names = form
    fills = {k: f"{k}_{slot}" for k in names}
    env.update({f"{k}_{slot}": value for k, value in names.items()})
    return f"({template.format(v=slot, d=d, t=f't_{slot}', **fills)})", env


@dataclass(frozen=True, slots=True)
class QueryEvent:
    """One executed statement, passed to ``orm.on_query`` listeners."""

    statement: str
    params_count: int
    duration: float
    rows: int
    error_code: str | None

    @property
    def operation(self) -> str:
        """The statement's first word: ``SELECT``, ``INSERT``, ``BEGIN``, ...; on MongoDB the command (``find``)."""
        head = self.statement.lstrip("( \n\t").split(None, 1)
        return head[0] if head else ""


#: bind parameters per statement when a driver declares no lower limit (SQLite's is 32766)
DEFAULT_MAX_BIND_PARAMS = 30000


class QueryListeners(list):  # type: ignore[type-arg]
    """A driver's ``on_query`` listeners. Drivers build a ``QueryEvent`` only when this is truthy:
    when someone listens, or when the ``farmorm.sql`` logger is enabled for DEBUG."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return len(self) > 0 or _sql_log.isEnabledFor(logging.DEBUG)


class Connection(abc.ABC):
    """One connection (or session) held for an operation or a transaction."""

    @abc.abstractmethod
    async def run(self, compiled: Any, params: Sequence[Any]) -> Result:
        """Execute ``compiled`` with ``params`` (values as parsed; encoding is the compiled plan's job)."""

    @abc.abstractmethod
    async def begin(self, isolation: str | None = None) -> None: ...

    @abc.abstractmethod
    async def commit(self) -> None: ...

    @abc.abstractmethod
    async def rollback(self) -> None: ...

    async def savepoint(self, name: str) -> None:
        raise NotImplementedError

    async def release_savepoint(self, name: str) -> None:
        raise NotImplementedError

    async def rollback_to_savepoint(self, name: str) -> None:
        raise NotImplementedError

    async def lock_for_transaction(self, name: str) -> None:
        """Make the running transaction wait for every other that took ``name``, and hold it until
        it commits or rolls back (idempotency keys: one reserver of a key at a time). Needed where
        waiting on a unique index can deadlock (InnoDB, when the holder rolls back); the default
        does nothing, the index waits are safe there."""

    def discard(self) -> None:
        """Drop the physical connection at once: its protocol or transaction state is unknown (a
        cancel mid-statement, a lost COMMIT reply). The pool must never hand it out again. The
        default does nothing (a driver without a pool of its own)."""

    def native(self) -> Any:
        """The native connection under this one (``orm.raw.connection()``: COPY, LISTEN, ...)."""
        raise NotImplementedError(f"{type(self).__name__} lends no native connection")

    def app_sql(self) -> None:
        """The app's own statements are about to run on this connection (``orm.raw``): they may
        leave session state behind (settings, temporary tables, session locks), so a driver that
        skips the release-time reset for farmorm's own statements resets this connection. The
        default does nothing (a driver that always resets, or has nothing to reset)."""

    async def raw_command(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """Run a database command document (``orm.raw.command``; MongoDB)."""
        raise NotImplementedError(f"{type(self).__name__} runs no command documents")

    async def raw_aggregate(self, collection: str, pipeline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Run an aggregation pipeline on ``collection`` (``orm.raw.aggregate``; MongoDB)."""
        raise NotImplementedError(f"{type(self).__name__} runs no aggregation pipelines")

    async def write_position(self) -> str | None:
        """Where the server's replication log stands now, on the primary, after a write (PostgreSQL's
        WAL LSN, MariaDB's GTID): read-your-writes compares it with a replica's ``replayed``. None
        when the server has no such position (then a time window keeps the context on the primary)."""
        return None

    async def replayed(self, position: str) -> bool | None:
        """On a replica: has it applied everything up to ``position``? None when it cannot tell."""
        return None

    async def replica_lag(self) -> float | None:
        """On a replica: seconds its data is behind the primary (0 when caught up), None when unknown."""
        return None

    async def cursor(self, compiled: Any, params: Sequence[Any], batch_size: int) -> RowCursor:
        """Open a cursor over the rows of the read ``compiled`` (``orm.<model>.stream``), fetched
        ``batch_size`` at a time. The caller always awaits ``close()``. This default runs the
        statement whole and slices it (buffered); the built-in drivers stream from the server."""
        result = await self.run(compiled, params)
        return BufferedCursor(result.rows, batch_size)


class RowCursor(abc.ABC):
    """An open cursor of a streamed read: batches of rows aligned with the statement's ``columns``."""

    @abc.abstractmethod
    async def fetch(self) -> Sequence[Sequence[Any]]:
        """The next batch (at most ``batch_size`` rows); an empty batch means the rows are exhausted."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the cursor's server resources (idempotent; called once the stream ends, however it ends)."""


class BufferedCursor(RowCursor):
    """Rows already in memory, handed out in batches (the fallback ``Connection.cursor``)."""

    __slots__ = ("rows", "size", "at")

    def __init__(self, rows: Sequence[Sequence[Any]], batch_size: int) -> None:
        self.rows = rows
        self.size = batch_size
        self.at = 0

    async def fetch(self) -> Sequence[Sequence[Any]]:
        at = self.at
        self.at = at + self.size
        return self.rows[at:at + self.size]

    async def close(self) -> None:
        self.rows = ()


class Driver(abc.ABC):
    """A backend: compiles nodes, hands out connections, maps native errors (the defaults of
    :class:`DriverContract`)."""

    handle: DriverHandle
    #: how the identity requirement is phrased ("SQL", "Mongo")
    runtime_label: str = "SQL"
    #: ``orm.on_query`` subscribers: the core appends to and removes from this list, never replaces it
    listeners: QueryListeners

    def __init__(self) -> None:
        self.listeners = QueryListeners()

    @abc.abstractmethod
    def compile(self, node: Any) -> Compiled:
        """Compile a value-free node; pure and sync, so the core caches the result by node."""

    @abc.abstractmethod
    def connection(self, *, write: bool = False, transaction: bool = False) -> AsyncContextManager[Connection]:
        """Acquire a connection for one operation or one transaction; released on exit."""

    @abc.abstractmethod
    def map_error(self, exc: BaseException) -> OrmError | None:
        """Convert a native error to an OrmError, or None when it is not a database error."""

    #: ``create_orm(..., write_retries=n)``: a statement (or a driver's write program) run outside a
    #: transaction is one atomic unit, so a retryable failure (a Galera certification conflict, a
    #: deadlock victim, a node not ready) re-runs it up to n times; drivers that honour it say so
    write_retries: int = 0
    #: the most bind parameters one statement may carry (``create_many`` splits its INSERT to stay
    #: under it); SQLite reports its own runtime limit
    max_bind_params: int = DEFAULT_MAX_BIND_PARAMS
    #: seconds a statement may take before it is abandoned, for a driver whose client library has
    #: no such option of its own (MySQL); its ``create_driver`` takes ``create_orm(command_timeout=)``
    command_timeout: float | None = None

    def acquire_is_immediate(self) -> bool:
        """True when ``connection()`` can be entered right now without waiting or doing I/O (a
        free local lock): the operation then skips arming its ``acquire_timeout`` deadline, which
        costs a timer per operation. The default (False) always arms it."""
        return False

    def pool_status(self) -> dict[str, int] | None:
        """``{"size", "in_use", "max_size"}`` of the connections farmorm hands out, or None when
        the driver has no pool of its own to report on."""
        return None

    def check_schema(self, schema: Any) -> None:
        """Refuse schema features this backend cannot serve (namespaces, generated ids, …). The
        default refuses schema-qualified tables where ``supports_schema_namespaces`` is False."""
        if self.handle.capabilities.supports_schema_namespaces:
            return
        for m in schema.models.values():
            if m.schema:
                raise UnsupportedError(
                    f"The {self.runtime_label} {self.handle.dialect} runtime does not support schema-qualified "
                    "tables. Use a PostgreSQL runtime for table_name(..., schema=...).",
                    backend_kind=self.handle.kind, dialect=self.handle.dialect, meta={"model": m.name},
                )

    async def push_schema(self, schema: Any) -> None:
        """Create missing tables and indexes (idempotent)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Close what the driver opened itself (never a client the user passed in)."""

    def terminate(self) -> None:
        """Close what the driver opened at once, under operations still running (``orm.close``
        past its timeout): they fail with CONNECTION_ERROR. The default does nothing."""

    def emit(self, statement: str, params_count: int, started: float, rows: int, error: BaseException | None) -> None:
        """Tell ``on_query`` listeners about one executed statement."""
        code = None
        if error is not None:
            mapped = error if isinstance(error, OrmError) else self.map_error(error)
            code = mapped.code if mapped is not None else type(error).__name__
        event = QueryEvent(statement, params_count, time.perf_counter() - started, rows, code)
        if _sql_log.isEnabledFor(logging.DEBUG):
            _sql_log.debug(
                "%s [%s params, %.6fs, %s rows%s]", statement, params_count, event.duration, rows,
                f", error {code}" if code else "",
                extra={"farmorm_event": event, "farmorm_kind": self.handle.kind, "farmorm_dialect": self.handle.dialect},
            )
        for listener in list(self.listeners):
            try:
                result = listener(event)
            except Exception:  # noqa: BLE001 - an observer must never fail the query it observes
                _log.exception("on_query listener %r raised; the query itself succeeded or failed on its own", listener)
                continue
            if inspect.isawaitable(result):
                if hasattr(result, "close"):
                    result.close()
                _log.warning("on_query listener %r is async; listeners must be plain functions", listener)


class ConnectionContract(Protocol):
    """What the core calls on a connection (see :class:`Connection` for the defaults)."""

    async def run(self, compiled: Any, params: Sequence[Any]) -> Result: ...

    async def begin(self, isolation: str | None = None) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def savepoint(self, name: str) -> None: ...

    async def release_savepoint(self, name: str) -> None: ...

    async def rollback_to_savepoint(self, name: str) -> None: ...

    async def lock_for_transaction(self, name: str) -> None: ...

    async def write_position(self) -> str | None: ...

    async def replayed(self, position: str) -> bool | None: ...

    async def replica_lag(self) -> float | None: ...

    def discard(self) -> None: ...

    async def cursor(self, compiled: Any, params: Sequence[Any], batch_size: int) -> RowCursor: ...

    def native(self) -> Any: ...

    def app_sql(self) -> None: ...

    async def raw_command(self, command: Mapping[str, Any]) -> dict[str, Any]: ...

    async def raw_aggregate(self, collection: str, pipeline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...


class DriverContract(Protocol):
    """Every member of a driver the core reads (see :class:`Driver` for the defaults)."""

    handle: DriverHandle
    runtime_label: str
    listeners: QueryListeners
    max_bind_params: int
    command_timeout: float | None
    write_retries: int

    def compile(self, node: Any) -> Compiled: ...

    def connection(self, *, write: bool = False, transaction: bool = False) -> AsyncContextManager[Connection]: ...

    def map_error(self, exc: BaseException) -> OrmError | None: ...

    def acquire_is_immediate(self) -> bool: ...

    def pool_status(self) -> dict[str, int] | None: ...

    def check_schema(self, schema: Any) -> None: ...

    async def push_schema(self, schema: Any) -> None: ...

    async def close(self) -> None: ...

    def terminate(self) -> None: ...


class DriverModule(Protocol):
    """A driver plug-in: a built-in ``farmorm_drivers.<name>`` or an entry point of the group
    ``farmorm.drivers``. Optional members: ``candidates(client) -> list[Candidate]`` (a module
    serving several client libraries reports one verdict per library) and ``needs_dialect = True``
    (it may detect a runtime whose dialect is None; ``create_orm`` then asks for ``dialect=``).

    ``create_driver`` receives ``create_orm``'s options (``command_timeout``, pool options, ...);
    a driver takes the ones it understands and ignores the rest."""

    name: str
    dialect: str | None
    url_schemes: tuple[str, ...]

    def inspect(self, client: Any) -> Candidate: ...

    async def create_driver(self, schema: Any, detected: Detected, **options: Any) -> Driver: ...
