"""Public import path: Idempotency keys: ``tx.idempotency.reserve(key, request_hash)``.

The code lives in :mod:`farmorm.features.idempotency`; this module keeps ``farmorm.idempotency`` stable."""

from .features.idempotency import *  # noqa: F401,F403
from .features.idempotency import __all__  # noqa: F401
