"""The handler of the worker process tests/backends/test_outbox_workers.py SIGKILLs mid-batch.

Every event leaves a ``started-<number>`` marker; the event whose order number is
``$OUTBOX_KILL_HANG`` then hangs (the parent kills the process there); the others are delivered
through the example's ``send_receipt`` (a line in the sink).
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio

from examples.outbox_worker.app import send_receipt
from farmorm.features.outbox import OutboxEvent


async def handler(event: OutboxEvent) -> None:
    number = event.payload["number"]
    marker = Path(os.environ["OUTBOX_KILL_MARKERS"]) / f"started-{number}"
    marker.write_text(event.id)
    if number == os.environ.get("OUTBOX_KILL_HANG"):
        await anyio.sleep_forever()
    send_receipt(event)
