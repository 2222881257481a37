"""``farmorm db init``: the migrations folder, ``alembic.ini`` and an env.py built on the farmorm schema."""

from __future__ import annotations

from pathlib import Path

ENV_PY = '''"""Alembic environment for this app's farmorm schema (written by `farmorm db init`; yours to edit)."""

from alembic import context
from sqlalchemy import MetaData

from farmorm.generators.sqlalchemy import to_sqlalchemy_metadata
from farmorm.migrations.environment import config_schema, database_url, farmorm_config, run_migrations

config = farmorm_config(context.config)  # {config_name}: define_config(schemas=[...], ...)
schema = config_schema(config)  # the config's schemas, merged


def target_metadata(dialect: str, mariadb: bool) -> MetaData:
    """The tables push_schema creates, as SQLAlchemy metadata for this database's dialect."""
    return to_sqlalchemy_metadata(schema, dialect=dialect, mariadb=mariadb)


run_migrations(context, database_url(context.config, config), schema, target_metadata)
'''

ALEMBIC_INI = """# Alembic settings written by `farmorm db init`. The database URL is not kept here: farmorm
# takes it from --url, $DATABASE_URL or database_url in {config_name}.
[alembic]
script_location = %(here)s/{directory}
prepend_sys_path = .
path_separator = os
farmorm_config = {config_name}
"""

SCRIPT_MAKO = '''"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    """Upgrade schema."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Downgrade schema."""
    ${downgrades if downgrades else "pass"}
'''


def init_migrations(root: Path, config_path: Path, directory: str = "migrations") -> list[Path]:
    """Create ``alembic.ini`` and ``<directory>/{env.py,script.py.mako,versions/}`` under ``root``.

    Existing files are left alone; returns the paths it wrote.
    """
    try:
        config_name = str(config_path.resolve().relative_to(root.resolve()))
    except ValueError:
        config_name = str(config_path.resolve())
    folder = root / directory
    files = {
        root / "alembic.ini": ALEMBIC_INI.format(directory=directory, config_name=config_name),
        folder / "env.py": ENV_PY.replace("{config_name}", config_name),
        folder / "script.py.mako": SCRIPT_MAKO,
    }
    written: list[Path] = []
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        if not path.exists():
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


__all__ = ["init_migrations"]
