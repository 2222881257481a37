"""What every SQL connection does the same way, written once: the instrumented ``execute`` (timer,
statement tag, aborted-transaction tracker, query event), the stale-read retry and savepoints.

A driver's connection subclasses :class:`SqlConnection` and supplies the native call
(``_statement``) plus the few hooks where backends really differ: what to do with a statement
cancelled mid-flight, how to take a fresh connection for a stale read, what a savepoint name is
quoted with.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from farmorm.core.driver import Connection, Driver, Result
from farmorm.core.errors import CONNECTION_ERROR

from .aborted import TxTracker
from .retry import run_retrying
from .statement import SqlStatement


class SqlConnection(Connection):
    """One connection of a SQL driver. Subclasses set ``conn`` (the native connection),
    ``driver``, ``in_tx``, and ``tracker`` (a :class:`TxTracker` on backends where farmorm applies
    PostgreSQL's aborted-transaction rule itself, None where the server does)."""

    __slots__ = ()

    driver: Driver
    conn: Any
    in_tx: bool
    tracker: TxTracker | None = None
    #: no statement failed on this checkout yet: a read that finds the connection dead (it died
    #: idle in the pool) may move to another connection once (subclasses with a pool keep a slot)
    fresh: bool = False
    #: the dialect name in the tracker's errors
    dialect_name = "sql"
    #: the quote around savepoint names
    savepoint_quote = '"'
    #: the statement that opens a transaction: its failure does not abort the transaction it opens
    begin_statement = "BEGIN"
    #: whether ``_check_busy`` / ``_succeeded`` do anything (off: no call per statement on the hot path)
    checks_busy = False
    cleans_up = False

    async def run(self, compiled: SqlStatement, params: Sequence[Any]) -> Result:
        sql, args = compiled.bind(params)
        if self.in_tx or not self.driver.write_retries:
            result = await self.execute(sql, args, compiled.kind)
        else:
            # outside a transaction a statement is one atomic unit: a retryable failure re-runs it
            result = await run_retrying(self.driver, lambda: self.execute(sql, args, compiled.kind))
        if compiled.echo:  # an insert whose rows are the values it bound (SqlDialect.echo)
            return Result(compiled.echoed(params), result.rowcount)
        return result

    async def execute(self, sql: str, args: Sequence[Any] = (), kind: str = "count") -> Result:
        """Run one statement; ``kind`` "count" returns the affected rows, anything else the rows.
        Every statement is timed and reported to ``orm.on_query``, failed or not."""
        driver = self.driver
        if self.checks_busy:
            self._check_busy()
        tracker = self.tracker
        if tracker is not None and tracker.failed is not None and self.in_tx and not sql.startswith("ROLLBACK"):
            raise tracker.error(driver.handle.kind, self.dialect_name, "statement")
        started = time.perf_counter()
        try:
            result = await self._statement(sql, args, kind)
        except BaseException as exc:
            if self.fresh:
                if self._stale_read(exc, sql, kind):
                    self.fresh = False
                    await self._replace()
                    return await self.execute(sql, args, kind)
                self.fresh = False
            await self._failing(exc, sql)
            try:
                exc.farmorm_statement = sql  # type: ignore[attr-defined]  # RuntimeSetupError.statement, map_error
            except AttributeError:
                pass
            tracker = self.tracker
            if tracker is not None and self.in_tx and isinstance(exc, Exception) and sql != self.begin_statement:
                tracker.fail(exc)
            if driver.listeners:
                driver.emit(sql, len(args), started, 0, exc)
            await self._failed(exc)
            raise
        if driver.listeners:
            driver.emit(sql, len(args), started, result.rowcount, None)
        if self.cleans_up:
            await self._succeeded()
        return result

    # -- the hooks ---------------------------------------------------------------------------------
    async def _statement(self, sql: str, args: Sequence[Any], kind: str) -> Result:
        """The native call: run ``sql`` with ``args``; the affected rows for "count", else the rows."""
        raise NotImplementedError

    def _check_busy(self) -> None:
        """With ``checks_busy``: refuse any statement while the connection cannot run one."""

    async def _failing(self, exc: BaseException, sql: str) -> None:
        """A statement failed (or was cancelled): before its query event (e.g. stop it on the server)."""

    async def _failed(self, exc: BaseException) -> None:
        """After the failed statement's query event (e.g. end an implicit transaction)."""

    async def _succeeded(self) -> None:
        """With ``cleans_up``: after a statement's query event."""

    def _pooled(self) -> bool:
        """Whether a dead connection can be swapped for another one from a pool."""
        return False

    async def _replace(self) -> None:
        """Hand the dead connection back and take another one (only called when ``_pooled()``)."""
        raise NotImplementedError

    def _stale_read(self, exc: BaseException, sql: str, kind: str) -> bool:
        """A read outside a transaction, first on its checkout, that found the connection dead:
        safe to run again on another connection (a read has no effect to duplicate)."""
        if self.in_tx or kind == "count" or not self._pooled() or not sql.startswith("SELECT"):
            return False
        if not isinstance(exc, Exception) or isinstance(exc, TimeoutError):
            return False
        mapped = self.driver.map_error(exc)
        return mapped is not None and mapped.code == CONNECTION_ERROR

    # -- savepoints ----------------------------------------------------------------------------------
    def _savepoint_name(self, name: str) -> str:
        q = self.savepoint_quote
        return f"{q}{name}{q}"

    async def savepoint(self, name: str) -> None:
        await self.execute(f"SAVEPOINT {self._savepoint_name(name)}")
        if self.tracker is not None:
            self.tracker.saved(name)

    async def release_savepoint(self, name: str) -> None:
        await self.execute(f"RELEASE SAVEPOINT {self._savepoint_name(name)}")
        if self.tracker is not None:
            self.tracker.released(name)

    async def rollback_to_savepoint(self, name: str) -> None:
        await self.execute(f"ROLLBACK TO SAVEPOINT {self._savepoint_name(name)}")
        if self.tracker is not None:
            self.tracker.rolled_back_to(name)
