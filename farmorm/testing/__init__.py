"""Testing helpers: throwaway databases (``databases``), the database lifecycle behind the pytest
plugin (``harness``), the plugin itself (``plugin``, loaded by pytest through the ``pytest11`` entry
point) and the mongomock adapter. Factories and seeds live in :mod:`farmorm.factories`."""

from .harness import FreshDatabases, WorkerDatabase, clean_database, rolled_back, worker_id

__all__ = ["WorkerDatabase", "FreshDatabases", "clean_database", "rolled_back", "worker_id"]
