"""``define_config`` and the loader the ``farmorm`` command uses for ``farmorm_config.py``.

A config file is plain Python that calls ``define_config(schemas=[...], targets={...})``. The
call returns its argument unchanged (like the reference's ``defineConfig``); the loader picks up
a module-level ``config`` or, failing that, the last ``define_config`` call the file made.
"""

from __future__ import annotations

import contextvars
import importlib.util
import sys
from pathlib import Path
from typing import Any, Mapping

from .features.factories import Seed

#: define_config calls made while a config file is being loaded (set by ``load_config`` only)
_captured: contextvars.ContextVar[list[dict[str, Any]] | None] = contextvars.ContextVar(
    "farmorm_config_capture", default=None
)


def define_config(config: Mapping[str, Any] | None = None, /, **options: Any) -> dict[str, Any]:
    """Return the config unchanged: ``schemas``, ``targets`` and optional ``database_url``, ``seed``, ``seeds``, ``migrations``."""
    result = {**dict(config or {}), **options}
    captured = _captured.get()
    if captured is not None:
        captured.append(result)
    return result


class ConfigError(Exception):
    """The config file is missing, does not load, or lacks what a command needs."""


def load_config(path: str | Path) -> dict[str, Any]:
    """Execute the config file at ``path`` and return its config (with ``path`` and ``root`` added)."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ConfigError(f"Config file not found: {file}")
    spec = importlib.util.spec_from_file_location(f"farmorm_user_config_{abs(hash(file))}", file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"Cannot load config file {file}")
    module = importlib.util.module_from_spec(spec)
    captured: list[dict[str, Any]] = []
    token = _captured.set(captured)
    added = str(file.parent) not in sys.path
    if added:  # the config may import the app's schema modules that sit beside it
        sys.path.insert(0, str(file.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        _captured.reset(token)
        if added:
            sys.path.remove(str(file.parent))
    found = getattr(module, "config", None)
    if not isinstance(found, Mapping):
        found = getattr(module, "default", None)
    if not isinstance(found, Mapping):
        found = captured[-1] if captured else {}
    config = dict(found)
    if "seed" not in config and callable(getattr(module, "seed", None)):
        config["seed"] = module.seed
    if "seeds" not in config:  # define_seed(...) results at module level, in definition order
        found_seeds = [v for v in vars(module).values() if isinstance(v, Seed)]
        if found_seeds:
            config["seeds"] = found_seeds
    config["path"] = file
    config["root"] = file.parent
    return config


__all__ = ["define_config", "load_config", "ConfigError"]
