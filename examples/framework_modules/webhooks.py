"""Webhooks module: endpoints and delivery attempts. Endpoints belong to an *owner key*
(``"team:<id>"``, ``"user:<id>"``): an opaque string, so the module depends on no other module
and any of them can own endpoints."""

from __future__ import annotations

import secrets
from typing import Any

from farmorm import Orm, belongs_to, define_schema, has_many, model
from farmorm import fields as f

schema = define_schema(
    webhook_endpoint=model(
        table="fw_webhook_endpoints",
        fields={
            "id": f.id(),
            "owner": f.string(),
            "url": f.string(),
            "secret": f.string(),
            "active": f.boolean().default(True),
        },
        relations={"deliveries": has_many("webhook_delivery", foreign_key="endpoint_id")},
        constraints={"unique": [["owner", "url"]]},
    ),
    webhook_delivery=model(
        table="fw_webhook_deliveries",
        fields={
            "id": f.id(),
            "endpoint_id": f.string().references("webhook_endpoint.id"),
            "event": f.string(),
            "payload": f.json(),
            "attempt": f.integer(),
            "status": f.enumeration(["delivered", "failed"]),
            "response_code": f.integer().nullable(),
            "created_at": f.datetime().default_now(),
        },
        relations={"endpoint": belongs_to("webhook_endpoint", foreign_key="endpoint_id")},
        constraints={"indexes": [["endpoint_id", "created_at"]]},
    ),
)


async def register(orm: Orm, owner: str, url: str) -> dict[str, Any]:
    """A new endpoint with a fresh signing secret; the same owner and URL twice is a 409."""
    return await orm.webhook_endpoint.create(data={"owner": owner, "url": url, "secret": secrets.token_hex(16)})


async def record_attempt(orm: Orm, endpoint_id: str, event: str, payload: Any, response_code: int | None) -> dict[str, Any]:
    """Log one delivery attempt; a 2xx response counts as delivered."""
    attempt = await orm.webhook_delivery.count(where={"endpoint_id": endpoint_id, "event": event}) + 1
    delivered = response_code is not None and 200 <= response_code < 300
    return await orm.webhook_delivery.create(data={
        "endpoint_id": endpoint_id, "event": event, "payload": payload, "attempt": attempt,
        "status": "delivered" if delivered else "failed", "response_code": response_code,
    })


async def endpoints_of(orm: Orm, owner: str) -> list[dict[str, Any]]:
    """The owner's endpoints with their delivery history, oldest attempt first."""
    return await orm.webhook_endpoint.find_many(
        where={"owner": owner}, order_by={"url": "asc"},
        select={"url": True, "active": True, "deliveries": {
            "select": {"event": True, "attempt": True, "status": True}, "order_by": {"attempt": "asc"}}},
    )
