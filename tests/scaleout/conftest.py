"""The scale-out test bed: PgBouncer, a PostgreSQL standby, a MariaDB replica, a Galera cluster.

``scripts/scale_out.sh start`` (``make test-scaleout``) starts them on free ports and writes their
URLs to ``$FARMORM_SCALEOUT_DIR/env``. These tests run only when ``FARMORM_SCALEOUT_DIR`` is set
(``make test-scaleout`` sets it); a component missing from the env file skips its tests with the
reason, unless ``FARMORM_REQUIRE_SCALEOUT`` lists it (CI: pgbouncer,standby,galera,mariadb-replica),
which makes it fail instead. ``FARMORM_SCALEOUT_SECONDS`` bounds each load run (default 5).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

COMPONENTS = {  # component -> the env keys its tests need
    "pgbouncer": ("FARMORM_PGBOUNCER_URL",),
    "standby": ("FARMORM_PG_PRIMARY_URL", "FARMORM_PG_STANDBY_URL"),
    "mariadb-replica": ("FARMORM_MARIADB_PRIMARY_URL", "FARMORM_MARIADB_REPLICA_URL"),
    "galera": ("FARMORM_GALERA_URLS",),
}
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "scale_out.sh"


def scaleout_dir() -> Path | None:
    value = os.environ.get("FARMORM_SCALEOUT_DIR")
    return Path(value) if value else None


def required() -> set[str]:
    return {c.strip() for c in os.environ.get("FARMORM_REQUIRE_SCALEOUT", "").split(",") if c.strip()}


def load_env() -> dict[str, str]:
    """The URLs ``scripts/scale_out.sh`` wrote (empty when the test bed is not there)."""
    d = scaleout_dir()
    if d is None or not (d / "env").is_file():
        return {}
    found = {}
    for line in (d / "env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            found[key.strip()] = value.strip()
    return found


def load_seconds() -> float:
    return float(os.environ.get("FARMORM_SCALEOUT_SECONDS", "5"))


def component(name: str) -> dict[str, str]:
    """The env of component ``name``; skips (or fails, when required) if it is not running."""
    env = load_env()
    missing = [k for k in COMPONENTS[name] if not env.get(k)]
    if not missing:
        return env
    if scaleout_dir() is None:
        reason = f"{name}: FARMORM_SCALEOUT_DIR is not set (run `make test-scaleout`)"
    else:
        reason = f"{name}: not running (scripts/scale_out.sh start {name} wrote no {', '.join(missing)})"
    if name in required():
        pytest.fail(f"FARMORM_REQUIRE_SCALEOUT lists {reason}")
    pytest.skip(reason)


def harness(*args: str) -> str:
    """Run ``scripts/scale_out.sh`` with ``args`` (same data directory); returns its output."""
    env = dict(os.environ)
    out = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"scale_out.sh {' '.join(args)} failed:\n{out.stderr}\n{out.stdout}")
    return out.stdout


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unknown = required() - set(COMPONENTS)
    if unknown:
        raise pytest.UsageError(f"FARMORM_REQUIRE_SCALEOUT names unknown components {sorted(unknown)} "
                                f"(known: {', '.join(COMPONENTS)})")


def pg_ctl(data_dir: str, *args: str) -> None:
    """``pg_ctl -D data_dir args...`` as the postgres user (PostgreSQL refuses to run as root)."""
    import glob

    pg_ctl_bin = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
    cmd = [pg_ctl_bin, "-D", data_dir, *args]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {out.stderr}{out.stdout}")
