"""Alembic commands driven from the farmorm config: revision, upgrade, downgrade, stamp."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory

from .safety import Rename, Review, revision_hook


class MigrationsNotInitialized(Exception):
    """There is no ``alembic.ini`` beside the config: run ``farmorm db init`` first."""


def alembic_config(config: dict[str, Any], url: str, **attributes: Any) -> Config:
    """An Alembic ``Config`` for the project of ``config``, bound to ``url``."""
    ini = Path(config["root"]) / "alembic.ini"
    if not ini.is_file():
        raise MigrationsNotInitialized(f"No alembic.ini in {config['root']}. Run `farmorm db init` first.")
    cfg = Config(str(ini))
    cfg.attributes["farmorm_config_path"] = config["path"]
    cfg.attributes["farmorm_url"] = url
    cfg.attributes.update(attributes)
    return cfg


def revision(cfg: Config, message: str, *, renames: list[Rename] | None = None, allow_data_loss: bool = False,
             allow_empty: bool = False) -> tuple[list[Path], Review]:
    """Autogenerate a revision comparing the schema with the live database, reviewed for safety
    (``safety.review``); returns the files written (none when refused) and the review."""
    found: list[Review] = []
    cfg.attributes["process_revision_directives"] = revision_hook(list(renames or ()), allow_data_loss,
                                                                  allow_empty, found)
    result = command.revision(cfg, message=message, autogenerate=True)
    scripts = result if isinstance(result, list) else [result]
    return [Path(s.path) for s in scripts if s is not None], found[0] if found else Review()


def history(cfg: Config) -> list[Any]:
    """Every revision, newest first (Alembic ``Script`` objects: ``revision``, ``down_revision``, ``doc``)."""
    return list(ScriptDirectory.from_config(cfg).walk_revisions())


def heads(cfg: Config) -> tuple[str, ...]:
    """The newest revision(s) of the migrations folder."""
    return tuple(ScriptDirectory.from_config(cfg).get_heads())


def pending(cfg: Config, url_current: str | None, target: str = "heads") -> int:
    """How many revisions an upgrade from ``url_current`` to ``target`` applies."""
    script = ScriptDirectory.from_config(cfg)
    return sum(1 for _ in script.iterate_revisions(target, url_current))


def current_revision(cfg: Config) -> str | None:
    """The revision the database is at (None when unversioned)."""
    seen: list[str | None] = []

    def grab(rev: Any, context: Any) -> list[Any]:
        seen.append(context.get_current_revision())
        return []

    script = ScriptDirectory.from_config(cfg)
    with EnvironmentContext(cfg, script, fn=grab, dont_mutate=True):
        script.run_env()
    return seen[0] if seen else None


def _report_steps(cfg: Config, on_step: Callable[[str], None] | None) -> None:
    """Have env.py call ``on_step(revision)`` after each applied revision (Alembic's on_version_apply)."""
    if on_step is None:
        return

    def callback(*, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        on_step(str(step.up_revision_id))

    cfg.attributes["on_version_apply"] = callback


def upgrade(cfg: Config, target: str = "head", on_step: Callable[[str], None] | None = None) -> None:
    """Apply revisions up to ``target``; ``on_step(revision_id)`` runs after each one."""
    _report_steps(cfg, on_step)
    command.upgrade(cfg, target)


def downgrade(cfg: Config, target: str = "-1", on_step: Callable[[str], None] | None = None) -> None:
    """Step back to ``target`` (default: one revision); ``on_step`` runs after each one."""
    _report_steps(cfg, on_step)
    command.downgrade(cfg, target)


def stamp(cfg: Config, target: str = "heads") -> None:
    """Record ``target`` as applied without running anything (after ``db reset``, or to adopt a database)."""
    command.stamp(cfg, target)


def has_revisions(cfg: Config) -> bool:
    """True when the migrations folder holds at least one revision."""
    return bool(ScriptDirectory.from_config(cfg).get_heads())


__all__ = ["alembic_config", "revision", "history", "heads", "pending", "current_revision", "upgrade", "downgrade", "stamp",
           "has_revisions", "MigrationsNotInitialized"]
