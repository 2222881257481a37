"""Read replicas: which server serves a read outside a transaction.

``Router`` owns the replicas of one client and answers one question per read: which connection?
It keeps each replica's health (a replica that refused a connection is skipped for a back-off that
doubles on each failure, then tried again), opens a replica that was down at start-up once it comes
up, skips a replica whose lag is over ``max_lag``, and gives **read-your-writes**: after a write,
reads in the same context (task, request) go to a replica only once it has replayed the primary's
log position of that write (PostgreSQL's WAL LSN, MariaDB's GTID), else to the primary. Where the
server has no such position, the context stays on the primary for ``sticky_seconds`` instead.

Everything else (transactions, writes) is the primary's; ``Router`` never sees it. It is built from
the engine's servers and a policy, never from ``Orm``; the engine hosts it (``Engine.router``).
"""

from __future__ import annotations

import itertools
import time
from contextvars import ContextVar
from typing import Any, AsyncContextManager, Awaitable, Callable, Sequence

import msgspec

from ..core.driver import Connection, Driver
from ..core.errors import CONNECTION_ERROR, DESCRIPTIONS, OrmError, make_error
from .server import DEFAULT_ACQUIRE_TIMEOUT, Server

_ids = itertools.count()


class ReplicaPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How reads use replicas (``create_orm(..., replicas=[...], replica_policy=ReplicaPolicy(...))``).

    - ``fallback``: read from the primary when no replica can serve (all down or too far behind);
      False raises CONNECTION_ERROR instead (``meta["reason"] == "no_replica"``).
    - ``read_your_writes``: after a write (or a committed transaction), reads in the same context
      wait for a replica that has replayed it, or go to the primary.
    - ``max_lag``: seconds; a replica further behind is skipped until it catches up (checked at
      most every ``lag_check_interval`` seconds per replica). None: no limit.
    - ``retry_after``: seconds a failed replica is skipped, doubled on each failure in a row up to
      ``retry_after_max``; the first read after that tries it again.
    - ``sticky_seconds``: when a server gives no log position (or asking failed), how long a
      context that wrote keeps reading from the primary.
    """

    fallback: bool = True
    read_your_writes: bool = True
    max_lag: float | None = None
    lag_check_interval: float = 1.0
    retry_after: float = 1.0
    retry_after_max: float = 30.0
    sticky_seconds: float = 2.0

    def __post_init__(self) -> None:
        for name in ("lag_check_interval", "retry_after", "retry_after_max", "sticky_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"ReplicaPolicy.{name} must be a number of seconds >= 0, got {value!r}")
        if self.max_lag is not None and (isinstance(self.max_lag, bool) or not isinstance(self.max_lag, (int, float))
                                         or self.max_lag < 0):
            raise ValueError(f"ReplicaPolicy.max_lag must be a number of seconds >= 0 or None, got {self.max_lag!r}")


class _Written(msgspec.Struct):
    """What the context last wrote: the primary's log position (None: unknown) and, for an
    unknown position, until when reads stay on the primary."""

    position: str | None
    until: float


class Replica:
    """One replica: its server (None until it could be opened), health and last measured lag."""

    __slots__ = ("index", "server", "opener", "down_until", "failures", "lag", "lag_at", "last_error")

    def __init__(self, index: int, driver: Driver | None, opener: Callable[[], Awaitable[Driver]] | None,
                 acquire_timeout: float | None = DEFAULT_ACQUIRE_TIMEOUT) -> None:
        self.index = index
        self.server = Server(driver, acquire_timeout) if driver is not None else None
        self.opener = opener
        self.down_until = 0.0
        self.failures = 0
        self.lag: float | None = None
        self.lag_at = float("-inf")
        self.last_error: str | None = None

    def status(self, now: float) -> dict[str, Any]:
        return {"replica": self.index, "open": self.server is not None, "healthy": self.down_until <= now,
                "retry_in": max(0.0, self.down_until - now), "failures": self.failures, "lag": self.lag,
                "last_error": self.last_error}


class Router:
    """Chooses the connection of each read outside a transaction (see the module docstring)."""

    def __init__(self, primary: Server, replicas: Sequence[Replica], policy: ReplicaPolicy,
                 on_open: Callable[[Driver], None] | None = None) -> None:
        self.primary = primary
        self.replicas = tuple(replicas)
        self.policy = policy
        self._turn = itertools.count()
        self._on_open = on_open
        self._written: ContextVar[_Written | None] = ContextVar(f"farmorm_written_{next(_ids)}", default=None)
        #: reads served per destination, for tests and ``orm.replica_status()``
        self.served = {"replica": 0, "primary": 0, "primary_fallback": 0, "primary_read_your_writes": 0}

    def servers(self) -> list[Server]:
        """The replica servers opened so far (``orm.close()`` closes them)."""
        return [r.server for r in self.replicas if r.server is not None]

    def status(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [r.status(now) for r in self.replicas]

    # -- writes ------------------------------------------------------------------------------
    async def note_write(self, conn: Connection) -> None:
        """Remember, for this context, where the primary's log stands after a write on ``conn``."""
        if not self.policy.read_your_writes:
            return
        try:
            position = await conn.write_position()
        except Exception:  # noqa: BLE001 - no position: the sticky window keeps reads on the primary
            position = None
        self._written.set(_Written(position, time.monotonic() + self.policy.sticky_seconds))

    # -- reads -------------------------------------------------------------------------------
    async def read_connection(self) -> tuple[AsyncContextManager[Connection], Connection]:
        """A connection for one read: a healthy, caught-up replica in turn, or the primary."""
        written = self._written.get()
        now = time.monotonic()
        if written is not None and written.position is None:
            if now < written.until:
                return await self._primary("primary_read_your_writes")
            self._written.set(None)
            written = None
        start = next(self._turn)
        n = len(self.replicas)
        behind = False
        last_error: OrmError | None = None
        for i in range(n):
            replica = self.replicas[(start + i) % n]
            if replica.down_until > now:
                continue
            try:
                got = await self._try(replica, written, now)
            except OrmError as exc:
                if not self._is_down(exc):
                    raise
                self._mark_down(replica, exc)
                last_error = exc
                continue
            if got is None:  # too far behind for max_lag, or not at the context's last write
                behind = True
                continue
            self.served["replica"] += 1
            return got
        if written is not None and behind:
            return await self._primary("primary_read_your_writes")
        if not self.policy.fallback:
            raise self._no_replica(last_error)
        return await self._primary("primary_fallback")

    async def _primary(self, why: str) -> tuple[AsyncContextManager[Connection], Connection]:
        self.served[why] += 1
        server = self.primary
        cm = server.driver.connection(write=False)
        return cm, await _enter(server, cm)

    async def _try(self, replica: Replica, written: _Written | None,
                   now: float) -> tuple[AsyncContextManager[Connection], Connection] | None:
        server = replica.server
        if server is None:
            server = await self._open(replica)
        driver = server.driver
        cm = driver.connection(write=False)
        conn = await _enter(server, cm)
        try:
            policy = self.policy
            if policy.max_lag is not None:
                if now - replica.lag_at >= policy.lag_check_interval:
                    replica.lag, replica.lag_at = await conn.replica_lag(), now
                if replica.lag is not None and replica.lag > policy.max_lag:
                    await cm.__aexit__(None, None, None)
                    return None
            if written is not None and written.position is not None:
                caught_up = await conn.replayed(written.position)
                if caught_up is None:  # this server cannot tell: the sticky window decides
                    caught_up = now >= written.until
                if not caught_up:
                    await cm.__aexit__(None, None, None)
                    return None
                self._written.set(None)  # replicas only move forward: no need to ask again
        except BaseException as exc:
            mapped = exc if isinstance(exc, OrmError) else driver.map_error(exc)
            await _quiet_exit(cm, exc)
            if mapped is not None and mapped is not exc:
                raise mapped from exc
            raise
        replica.failures = 0
        replica.last_error = None
        return cm, conn

    async def _open(self, replica: Replica) -> Server:
        """Open a replica that was down when the client was created."""
        assert replica.opener is not None
        try:
            driver = await replica.opener()
        except OrmError:
            raise
        except Exception as exc:
            mapped = self.primary.driver.map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        if self.primary.closed:  # orm.close() ran while this one opened
            await driver.close()
            raise self.primary.closed_error()
        replica.server = server = Server(driver, self.primary.acquire_timeout)
        if self._on_open is not None:
            self._on_open(driver)
        return server

    @staticmethod
    def _is_down(exc: OrmError) -> bool:
        """A failure that says the replica cannot serve now (not a pool wait, not a closed client)."""
        return exc.code == CONNECTION_ERROR and exc.meta.get("reason") not in ("pool_timeout", "pool_closed")

    def _mark_down(self, replica: Replica, exc: OrmError) -> None:
        replica.failures += 1
        wait = min(self.policy.retry_after * 2.0 ** (replica.failures - 1), self.policy.retry_after_max)
        replica.down_until = time.monotonic() + wait
        replica.last_error = exc.message

    def _no_replica(self, cause: OrmError | None) -> OrmError:
        h = self.primary.driver.handle
        why = f" (last error: {cause.message})" if cause is not None else ""
        return make_error(
            CONNECTION_ERROR,
            f"{DESCRIPTIONS[CONNECTION_ERROR]} in {h.kind} ({h.dialect}) runtime: no replica can serve this read "
            f"and ReplicaPolicy(fallback=False) keeps reads off the primary{why}.",
            backend_kind=h.kind, dialect=h.dialect, retryable=False,
            meta={"reason": "no_replica", "replicas": self.status()},
        )


async def _enter(server: Server, cm: AsyncContextManager[Connection]) -> Connection:
    try:
        return await server.enter(cm.__aenter__())
    except OrmError:
        raise
    except Exception as exc:
        mapped = server.driver.map_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


async def _quiet_exit(cm: AsyncContextManager[Connection], exc: BaseException) -> None:
    try:
        await cm.__aexit__(type(exc), exc, exc.__traceback__)
    except Exception:  # noqa: BLE001 - the error being raised is the one that matters
        pass

