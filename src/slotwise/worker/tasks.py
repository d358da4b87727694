"""Every job a worker can run, by name, and what runs periodically.

Handlers are thin: each calls one use case, whose docstring says how it stays idempotent.
"""

from __future__ import annotations

from slotwise.app.container import UseCases
from slotwise.domain.jobs import JobHandler, Loop, Periodic, Registry, Task


def registry(use_cases: UseCases, *, max_attempts: int = 8, backoff_s: int = 2) -> Registry:
    def task(name: str, handler: JobHandler) -> Task:
        return Task(name=name, handler=handler, max_attempts=max_attempts, backoff_s=backoff_s)

    tasks: list[Task] = []
    periodic: list[Periodic] = []
    loops = [Loop("relay", use_cases.relay)]
    return Registry(tasks={t.name: t for t in tasks}, periodic=tuple(periodic),
                    loops=tuple(loops))
