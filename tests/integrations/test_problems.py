"""The framework-free error mapping behind both integrations (farmorm.integrations.problems)."""

from __future__ import annotations

import logging

import pytest

from farmorm import OrmError, VersionConflict
from farmorm.integrations import problem_for_error, problem_for_status, problem_for_validation


@pytest.mark.parametrize(("code", "status", "retry"), [
    ("UNIQUE_CONSTRAINT_VIOLATION", 409, False), ("NOT_FOUND", 404, False), ("CHECK_VIOLATION", 422, False),
    ("DEADLOCK", 503, True), ("CONNECTION_ERROR", 503, True), ("QUERY_TIMEOUT", 504, False),
    ("MISSING_TABLE", 500, False),
])
def test_status_by_code(code: str, status: int, retry: bool, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="farmorm.integrations"):
        p = problem_for_error(OrmError("native text: table secret_things", code=code))
    assert p.status == status and p.body["code"] == code and p.media_type == "application/problem+json"
    assert ("Retry-After" in p.headers) is retry
    assert ("secret_things" in p.body["detail"]) is (status in (404, 422))  # native text stays in the log
    assert bool(caplog.records) is (status >= 500)


def test_version_conflict_carries_the_current_version() -> None:
    p = problem_for_error(VersionConflict("stale", meta={"actual_version": 7}))
    assert p.body["current_version"] == 7 and p.status == 409


def test_one_shape_for_every_source() -> None:
    shapes = [problem_for_error(OrmError("x", code="NOT_FOUND")).body,
              problem_for_validation([{"loc": ("body", "name"), "msg": "Field required"}]).body,
              problem_for_status(405)]
    keys = {"type", "title", "status", "code", "detail"}
    assert all(keys <= set(s if isinstance(s, dict) else s.body) for s in shapes)
    assert shapes[1]["errors"] == [{"loc": ["body", "name"], "message": "Field required"}]
    assert problem_for_status(405).body["code"] == "METHOD_NOT_ALLOWED"
