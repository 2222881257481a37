"""A fake backend for the core's unit tests, in the spirit of httpx's ``MockTransport``.

It is also the smallest complete example of a backend: this one folder implements the driver
contract of ``farmorm/core/driver.py`` (``DriverModule`` here, ``DriverContract`` and
``ConnectionContract`` in ``driver.py``) and nothing else. A test hands it a *handler*, a function
``handler(node, params) -> rows | Result | BaseException`` that plays the database, and reads the
calls back from ``driver.log``::

    driver = FakeDriver(schema, lambda node, params: [["u1", "ada@example.com"]])
    orm = Orm(schema, driver)
    await orm.user.find_many()
    assert driver.log == [("connect", False), ("run", Select(...), ()), ("release", False)]
"""

from __future__ import annotations

from typing import Any

from farmorm.core.detect import Candidate, Detected

from .driver import FakeConnection, FakeDriver, FakeError, Handler

name = "fake"
dialect = "fake"
url_schemes = ("fake",)

__all__ = ["FakeConnection", "FakeDriver", "FakeError", "Handler", "create_driver", "inspect"]


def inspect(client: Any) -> Candidate:
    """Is ``client`` a ``fake://`` URL or a handler function?"""
    if isinstance(client, str):
        scheme = client.split(":", 1)[0].lower()
        if scheme in url_schemes:
            return Candidate("fake", True, (), Detected("fake", client, "fake", "url"))
        return Candidate("fake", False, (f'URL scheme "{scheme}" is not fake',))
    if callable(client):
        return Candidate("fake", True, (), Detected("fake", client, "fake", "client"))
    return Candidate("fake", False, ("not a handler function",))


async def create_driver(schema: Any, detected: Detected, **options: Any) -> FakeDriver:
    """A fake driver answering with ``detected.client`` (a handler), or with no rows for a URL."""
    handler = detected.client if callable(detected.client) else None
    return FakeDriver(schema, handler, pool_size=options.get("pool_size"))
