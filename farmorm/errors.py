"""Public import path: The error hierarchy and the codes (``OrmError``, ``UNIQUE_CONSTRAINT_VIOLATION``, ...).

The code lives in :mod:`farmorm.core.errors`; this module keeps ``farmorm.errors`` stable."""

from .core.errors import *  # noqa: F401,F403
from .core.errors import __all__  # noqa: F401
