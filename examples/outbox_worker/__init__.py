"""A background worker that drains farmorm's transactional outbox (``python -m examples.outbox_worker``)."""
