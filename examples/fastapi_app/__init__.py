"""A FastAPI app on farmorm and an asyncpg pool: see ``app.py`` and ``README.md``."""
