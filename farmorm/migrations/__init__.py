"""Migrations on Alembic: ``farmorm db init|generate|migrate|downgrade|doctor`` build on these.

Importing this package needs no SQLAlchemy; ``compare`` and ``commands`` need the ``migrations``
extra (``pip install 'farmorm[migrations]'``).
"""

from .scaffold import init_migrations
from .urls import UrlError, is_local, resolve_url, sqlalchemy_url, url_dialect

__all__ = ["init_migrations", "UrlError", "is_local", "resolve_url", "sqlalchemy_url", "url_dialect"]
