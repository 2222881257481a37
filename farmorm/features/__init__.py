"""Features built on the runtime's public API: record history, the transactional outbox,
idempotency keys, factories and seeds, OpenTelemetry spans. The runtime never imports them: each
attaches itself through the runtime's extension point (``farmorm/runtime/extension.py``) when its
module is imported, and importing this package imports the ones that attach."""

from . import history, idempotency, outbox  # noqa: F401 - imported to register their extensions
