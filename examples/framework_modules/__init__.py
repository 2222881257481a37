"""A framework's storage on one farmorm contract: auth, teams, route cache, jobs and webhooks.

Each module owns its models and the functions that use them; ``contract.py`` merges their
schemas into the one contract the framework hands to ``create_orm``, ``push_schema`` and the
generators. It runs unchanged on SQLite, PostgreSQL, MySQL/MariaDB and MongoDB.
"""
