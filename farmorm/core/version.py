"""farmorm's version (one place: the package, ``farmorm --version`` and the OpenTelemetry scope read it)."""

__version__ = "0.1.0"
