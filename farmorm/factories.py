"""Public import path: Factories and seeds: ``define_factory``, ``define_seed``.

The code lives in :mod:`farmorm.features.factories`; this module keeps ``farmorm.factories`` stable."""

from .features.factories import *  # noqa: F401,F403
from .features.factories import __all__  # noqa: F401
