"""Public import path: Record history: ``acting_as(actor)`` and the history model's name.

The code lives in :mod:`farmorm.features.history`; this module keeps ``farmorm.history`` stable."""

from .features.history import *  # noqa: F401,F403
from .features.history import __all__  # noqa: F401
