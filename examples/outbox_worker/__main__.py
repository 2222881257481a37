"""``python -m examples.outbox_worker DATABASE_URL --sink receipts.jsonl``: drain the outbox.

Runs a ``farmorm.outbox.Dispatcher`` until SIGTERM/SIGINT (the batch in hand is finished first),
or with ``--once`` until nothing is due. ``--handler module:function`` and ``--schema
module:attribute`` point it at another app's handler and schema. Any number of workers may run
side by side, on one machine or many: batches are claimed with row locks and leases.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from typing import Any

import anyio

from farmorm import create_orm
from farmorm.features.outbox import DispatchReport, Dispatcher
from farmorm.setup import push_schema

from .app import SINK_ENV

log = logging.getLogger("outbox_worker")


def load(path: str) -> Any:
    """``package.module:attribute`` -> the attribute."""
    module, _, attr = path.partition(":")
    if not module or not attr:
        raise SystemExit(f"expected module:attribute, got {path!r}")
    return getattr(importlib.import_module(module), attr)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m examples.outbox_worker", description=__doc__.split("\n\n")[0])
    p.add_argument("url", nargs="?", default=os.environ.get("DATABASE_URL"), help="database URL (or $DATABASE_URL)")
    p.add_argument("--sink", help="file the default handler appends receipts to")
    p.add_argument("--handler", default="examples.outbox_worker.app:send_receipt", help="module:function")
    p.add_argument("--schema", default="examples.outbox_worker.app:schema", help="module:attribute")
    p.add_argument("--setup", action="store_true", help="push the schema first (idempotent)")
    p.add_argument("--once", action="store_true", help="exit when nothing is due")
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--lease", type=float, default=30.0, help="seconds a claimed batch belongs to this worker")
    p.add_argument("--max-attempts", type=int, default=5)
    p.add_argument("--poll", type=float, default=1.0, help="seconds between polls when idle")
    p.add_argument("--worker-id", default=None)
    args = p.parse_args(argv)
    if not args.url:
        p.error("a database URL is required (argument or $DATABASE_URL)")
    return args


async def drain_once(dispatcher: Dispatcher) -> DispatchReport:
    """Batches until none is claimed; the summed report."""
    total = DispatchReport()
    while True:
        report = await dispatcher.run_once()
        for field in DispatchReport.__struct_fields__:
            setattr(total, field, getattr(total, field) + getattr(report, field))
        if report.claimed == 0:
            return total


async def main(args: argparse.Namespace) -> int:
    if args.sink:
        os.environ[SINK_ENV] = os.path.abspath(args.sink)
    schema = load(args.schema)
    handler = load(args.handler)
    async with await create_orm(schema, args.url) as orm:
        if args.setup:
            await push_schema(schema, orm)
        dispatcher = Dispatcher(orm, handler, batch_size=args.batch_size, lease=args.lease,
                                max_attempts=args.max_attempts, poll_interval=args.poll, worker_id=args.worker_id)
        log.info("worker %s started", dispatcher.worker_id)
        if args.once:
            report = await drain_once(dispatcher)
            log.info("drained: %s", report)
            print(f"delivered={report.delivered} retried={report.retried} dead={report.dead}", flush=True)
            return 0
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:

            async def on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for signum in signals:
                        log.info("signal %s: stopping after the current batch", signum)
                        stop.set()
                        return

            tg.start_soon(on_signal)
            print(f"worker {dispatcher.worker_id} running", flush=True)
            await dispatcher.run(stop)
            tg.cancel_scope.cancel()
    log.info("worker stopped")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sys.exit(anyio.run(main, parse_args()))
