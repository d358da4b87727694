"""Every job a worker can run, by name, and what runs periodically.

Handlers are thin: each calls one use case, whose docstring says how it stays idempotent.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slotwise.app.container import UseCases
from slotwise.domain.jobs import JobHandler, Loop, Periodic, Registry, Task


def registry(use_cases: UseCases, *, max_attempts: int = 8, backoff_s: int = 2,
             settle_after: timedelta = timedelta(hours=2)) -> Registry:
    def task(name: str, handler: JobHandler) -> Task:
        return Task(name=name, handler=handler, max_attempts=max_attempts, backoff_s=backoff_s)

    lifecycle = use_cases.lifecycle

    def expire_pending(_: dict[str, Any]) -> None:
        lifecycle.expire_pending()

    def settle(_: dict[str, Any]) -> None:
        lifecycle.settle(settle_after)

    payments = use_cases.payments
    tasks = [task("lifecycle.expire_pending", expire_pending),
             task("lifecycle.settle", settle),
             task("payments.create", lambda a: payments.start(a["org_id"], a["payment_id"])),
             task("payments.cancel", lambda a: payments.cancel(a["org_id"], a["payment_id"])),
             task("payments.refund", lambda a: payments.refund(a["org_id"], a["refund_id"]))]
    periodic = [Periodic("lifecycle.expire_pending", every_s=15),
                Periodic("lifecycle.settle", every_s=300)]
    loops = [Loop("relay", use_cases.relay)]
    return Registry(tasks={t.name: t for t in tasks}, periodic=tuple(periodic),
                    loops=tuple(loops))
