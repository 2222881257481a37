"""The core every layer stands on: errors, the driver contract, runtime detection and the plan cache.

Nothing here imports a database library or ``farmorm_drivers``; drivers are found by name
(``farmorm.core.detect``) and speak to the core only through ``farmorm.core.driver``."""
