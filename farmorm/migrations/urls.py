"""Database URLs for the migration tools: which one to use, its SQLAlchemy form, is it local."""

from __future__ import annotations

import os
from typing import Any, Mapping
from urllib.parse import urlsplit

#: farmorm URL scheme -> (SQLAlchemy async URL scheme, farmorm dialect)
_SCHEMES = {
    "sqlite": ("sqlite+aiosqlite", "sqlite"),
    "postgres": ("postgresql+asyncpg", "postgres"),
    "postgresql": ("postgresql+asyncpg", "postgres"),
    "mysql": ("mysql+aiomysql", "mysql"),
    "mariadb": ("mysql+aiomysql", "mysql"),
}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class UrlError(ValueError):
    """No usable database URL, or one the migration tools cannot drive."""


def resolve_url(flag: str | None, config: Mapping[str, Any] | None = None) -> str:
    """The database URL: ``--url`` first, then ``$DATABASE_URL``, then the config's ``database_url``."""
    url = flag or os.environ.get("DATABASE_URL") or (config or {}).get("database_url")
    if not url:
        raise UrlError(
            "No database URL: pass --url, set DATABASE_URL, or give database_url in the config."
        )
    return str(url)


def url_dialect(url: str) -> str:
    """farmorm's dialect name for ``url`` ("sqlite", "postgres" or "mysql")."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme not in _SCHEMES:
        raise UrlError(
            f'Unsupported database URL scheme "{scheme}" for migrations. '
            "Use sqlite:///, postgresql:// or mysql://."
        )
    return _SCHEMES[scheme][1]


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy async URL for a farmorm URL (``postgresql://`` -> ``postgresql+asyncpg://``)."""
    scheme, rest = url.split(":", 1)
    if "+" in scheme:  # already a SQLAlchemy URL with a driver
        return url
    sa_scheme = _SCHEMES[scheme.lower()][0] if scheme.lower() in _SCHEMES else None
    if sa_scheme is None:
        url_dialect(url)  # raises with the message
    out = f"{sa_scheme}:{rest}"
    if sa_scheme == "mysql+aiomysql" and "charset=" not in rest:
        out += ("&" if "?" in rest else "?") + "charset=utf8mb4"
    return out


def is_local(url: str) -> bool:
    """True for SQLite files and servers on 127.0.0.1, localhost or ::1."""
    if url_dialect(url) == "sqlite":
        return True
    host = (urlsplit(url).hostname or "").lower()
    return host in LOCAL_HOSTS


def redact(url: str) -> str:
    """``url`` with its password masked, for printing."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


__all__ = ["resolve_url", "url_dialect", "sqlalchemy_url", "is_local", "redact", "UrlError", "LOCAL_HOSTS"]
