"""Web framework integrations: :mod:`farmorm.integrations.fastapi` and :mod:`farmorm.integrations.litestar`.

Both give the same three things on the public ``Orm`` API: a lifespan that opens the ORM at start-up
and closes it at shutdown, a dependency yielding the ORM or a per-request transaction, and error
handlers that answer every failure with one RFC 9457 problem shape (:mod:`farmorm.integrations.problems`).
Importing this package needs no framework; each module needs its extra (``farmorm[fastapi]``,
``farmorm[litestar]``).
"""

from .problems import HTTP_STATUS, Problem, problem_for_error, problem_for_status, problem_for_validation

__all__ = ["HTTP_STATUS", "Problem", "problem_for_error", "problem_for_status", "problem_for_validation"]
