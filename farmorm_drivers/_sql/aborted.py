"""PostgreSQL's aborted-transaction rule, applied by farmorm on MySQL/MariaDB and SQLite.

PostgreSQL refuses every statement after one fails inside a transaction (25P02) until ROLLBACK
(or ROLLBACK TO a savepoint taken before the failure). MySQL and SQLite roll back only the failed
statement and let the transaction go on: InnoDB even does so for a lock wait timeout (1205), so an
app that catches the error and commits would commit half a transaction. farmorm cannot know the
app meant that, so on every backend a failed statement aborts the transaction level it ran in:
the next statement raises ``TRANSACTION_ABORTED``, a commit is refused (and rolled back), and
leaving the block rolls back. A nested ``tx.transaction()`` (a savepoint) fences errors that the
app wants to survive. ``TxTracker`` is the per-connection state the SQL drivers keep for this.
"""

from __future__ import annotations

from typing import Any

from farmorm.core.errors import DESCRIPTIONS, TRANSACTION_ABORTED, OrmError, make_error


class TxTracker:
    """The first failure of the open transaction and the savepoint depth it happened at."""

    __slots__ = ("failed", "failed_depth", "savepoints")

    def __init__(self) -> None:
        self.failed: BaseException | None = None
        self.failed_depth = 0
        self.savepoints: list[str] = []

    def reset(self) -> None:
        self.failed = None
        self.failed_depth = 0
        self.savepoints.clear()

    def fail(self, exc: BaseException) -> None:
        """Remember ``exc`` as the error that aborted the transaction (the first one wins)."""
        if self.failed is None:
            self.failed = exc
            self.failed_depth = len(self.savepoints)

    def saved(self, name: str) -> None:
        self.savepoints.append(name)

    def rolled_back_to(self, name: str) -> None:
        """ROLLBACK TO ``name`` undoes a failure that happened after the savepoint was taken."""
        if name not in self.savepoints:
            return
        index = self.savepoints.index(name)
        del self.savepoints[index + 1:]
        if self.failed is not None and self.failed_depth > index:
            self.failed = None
            self.failed_depth = 0

    def released(self, name: str) -> None:
        if name in self.savepoints:
            del self.savepoints[self.savepoints.index(name):]

    def error(self, kind: str, dialect: str, doing: str) -> OrmError:
        """The TRANSACTION_ABORTED error for ``doing`` ("statement" / "commit"), caused by the failure."""
        failed = self.failed
        native: Any = None
        if failed is not None:
            native = getattr(failed, "sqlite_errorname", None) or (
                failed.args[0] if failed.args and isinstance(failed.args[0], int) else None)
        # the native message may quote the values written: name the error, not its text
        first = (f"{type(failed).__name__} {native}" if native is not None else type(failed).__name__) \
            if failed is not None else "an earlier error"
        if doing == "commit":
            what = "farmorm rolled it back instead of committing"
        else:
            what = "only a rollback (or a rollback to a savepoint taken before the failure) can run now"
        err = make_error(
            TRANSACTION_ABORTED,
            f"{DESCRIPTIONS[TRANSACTION_ABORTED]} in {kind} ({dialect}) runtime: an earlier statement of this "
            f"transaction failed ({first}); {what}. Run statements whose errors you catch in a nested "
            "transaction (a savepoint).",
            backend_kind=kind, dialect=dialect, meta={"original_code": native}, retryable=False,
        )
        err.__cause__ = failed
        return err
