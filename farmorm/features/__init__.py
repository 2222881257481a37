"""Features built on the runtime's public API: record history, the transactional outbox,
idempotency keys, factories and seeds, OpenTelemetry spans. The runtime never imports them."""
