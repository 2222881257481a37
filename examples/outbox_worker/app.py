"""The app side: a schema with ``outbox=True``, a write that records its event, and a handler.

``place_order`` inserts the order and its ``order.placed`` event in one transaction, so the event
exists exactly when the order does. ``send_receipt`` is the worker's handler: it "sends" a receipt
by appending one JSON line to a sink file (a stand-in for a mailer or a message broker).
Delivery is at least once, so a real handler must be idempotent: the line carries the event id,
which a consumer can use to drop duplicates.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

from farmorm import Orm, define_schema, model, fields as f
from farmorm.features.outbox import OutboxEvent

schema = define_schema(
    order=model(
        table="orders",
        fields={
            "id": f.id(),
            "number": f.string().unique(),
            "email": f.string(),
            "total": f.decimal(),
            "placed_at": f.datetime().default_now(),
        },
    ),
    outbox=True,
)

#: where ``send_receipt`` appends its lines (the worker's ``--sink`` sets it)
SINK_ENV = "OUTBOX_WORKER_SINK"


async def place_order(orm: Orm, number: str, email: str, total: Decimal) -> dict[str, Any]:
    """Create an order and record its ``order.placed`` event in the same transaction."""
    async with orm.transaction() as tx:
        order = await tx.order.create(data={"number": number, "email": email, "total": total})
        await tx.outbox.record("order.placed", {"order_id": order["id"], "number": number, "email": email,
                                                "total": str(total)})
    return order


def send_receipt(event: OutboxEvent) -> None:
    """The handler: one JSON line per delivery, flushed to disk before the event is marked done."""
    line = json.dumps({"event_id": event.id, "type": event.event_type, "attempt": event.attempts,
                       "payload": event.payload, "pid": os.getpid()})
    with open(os.environ[SINK_ENV], "a", encoding="utf-8") as sink:
        sink.write(line + "\n")
        sink.flush()
        os.fsync(sink.fileno())
