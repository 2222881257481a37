"""Runnable examples of farmorm in applications; each one is exercised by ``tests/examples/``."""
