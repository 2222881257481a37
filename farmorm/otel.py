"""Public import path: OpenTelemetry spans per statement: ``instrument(orm)``.

The code lives in :mod:`farmorm.features.otel`; this module keeps ``farmorm.otel`` stable."""

from .features.otel import *  # noqa: F401,F403
from .features.otel import __all__  # noqa: F401
