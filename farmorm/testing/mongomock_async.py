"""Public import path of the async face for mongomock (tests without a MongoDB server).

The code lives with the Mongo driver, in :mod:`farmorm_drivers.mongo.mongomock_async`, so the
driver never imports ``farmorm.testing``; this module keeps ``farmorm.testing.mongomock_async``
stable."""

from farmorm_drivers.mongo.mongomock_async import *  # noqa: F401,F403
from farmorm_drivers.mongo.mongomock_async import __all__  # noqa: F401
