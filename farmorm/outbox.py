"""Public import path: The transactional outbox: ``Dispatcher`` and the outbox client.

The code lives in :mod:`farmorm.features.outbox`; this module keeps ``farmorm.outbox`` stable."""

from .features.outbox import *  # noqa: F401,F403
from .features.outbox import __all__  # noqa: F401
