"""Runtime detection over registered drivers: which driver serves the client the app passed in.

Drivers register by name: the built-ins below plus any entry point in the group
``farmorm.drivers``. A driver module implements :class:`farmorm.core.driver.DriverModule` (``name``, ``dialect``,
``url_schemes``, ``inspect``, ``create_driver``; optionally ``candidates`` and ``needs_dialect``).
Inspection never imports a database library the application has not imported itself.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, cast

from .driver import Candidate as Candidate
from .driver import Detected as Detected
from .driver import DriverModule
BUILTIN_DRIVERS = {
    "sqlite": "farmorm_drivers.sqlite",
    "postgres": "farmorm_drivers.postgres",
    "mysql": "farmorm_drivers.mysql",
    "sqlalchemy": "farmorm_drivers.sqlalchemy",
    "mongo": "farmorm_drivers.mongo",
}


@dataclass(frozen=True)
class RuntimeReport:
    """``inspect_database_runtime``'s report."""

    runtime: Detected | None
    constructor_name: str | None
    candidates: tuple[Candidate, ...]
    summary: str
    hint: str | None


def _load(target: str) -> DriverModule | None:
    try:
        return cast(DriverModule, importlib.import_module(target))
    except ImportError:
        return None


def drivers() -> dict[str, DriverModule]:
    """Every available driver module by name: built-ins first, then ``farmorm.drivers`` plug-ins."""
    found: dict[str, DriverModule] = {}
    for name, target in BUILTIN_DRIVERS.items():
        mod = _load(target)
        if mod is not None and hasattr(mod, "inspect"):
            found[name] = mod
    for ep in entry_points(group="farmorm.drivers"):
        if ep.name in found:
            continue
        try:
            obj = ep.load()
        except ImportError:
            continue
        mod = obj() if callable(obj) and not isinstance(obj, ModuleType) else obj
        if hasattr(mod, "inspect"):
            found[ep.name] = mod
    return found


def _verdicts(mod: DriverModule, client: Any) -> list[Candidate]:
    """Every candidate a driver module reports for ``client``."""
    many = getattr(mod, "candidates", None)
    return list(many(client)) if many is not None else [mod.inspect(client)]


#: what to do when no driver recognizes a client (the reference's hint suggested a "runtime"
#: override, which create_orm does not have)
HINT = ("Pass a URL or a client farmorm supports (a pool, connection, engine or database of a library "
        "your app has imported: see docs/clients.md).")


def _constructor_name(client: Any) -> str | None:
    if client is None or isinstance(client, (str, dict)):
        return None
    return type(client).__name__


def inspect_database_runtime(client: Any) -> RuntimeReport:
    """Explain which driver matches ``client`` and why each other one did not."""
    candidates: list[Candidate] = []
    runtime = None
    for mod in drivers().values():
        for cand in _verdicts(mod, client):
            candidates.append(cand)
            if cand.matched and runtime is None:
                runtime = cand.detected
    if runtime is not None:
        dialect = f" ({runtime.dialect})" if runtime.dialect else ""
        return RuntimeReport(runtime, _constructor_name(client), tuple(candidates),
                             f"Detected {runtime.kind}{dialect} runtime from {runtime.source}.", None)
    ctor = _constructor_name(client)
    summary = (
        f'Could not detect a supported runtime from constructor "{ctor}".'
        if ctor else "Could not detect a supported runtime from the provided client."
    )
    first = next((r for c in candidates for r in c.reasons), "no driver is installed")
    hint = f"{HINT} First failing check: {first}."
    return RuntimeReport(None, ctor, tuple(candidates), summary, hint)


def detect_database_runtime(client: Any) -> Detected | None:
    """The detected runtime for ``client``, or None."""
    return inspect_database_runtime(client).runtime


def require_database_runtime(client: Any) -> Detected:
    """The detected runtime for ``client``; raises ``ValueError`` with the summary and hint."""
    report = inspect_database_runtime(client)
    if report.runtime is None:
        raise ValueError(f"{report.summary} {report.hint}")
    return report.runtime


def resolve(client: Any) -> tuple[DriverModule, Detected]:
    """The driver module serving ``client`` and what it detected; ValueError when none does."""
    for mod in drivers().values():
        for cand in _verdicts(mod, client):
            if cand.matched and cand.detected is not None:
                return mod, cand.detected
    report = inspect_database_runtime(client)
    raise ValueError(f"{report.summary} {report.hint}")
