"""Run a real job engine in a test: the embedded one on SQLite, procrastinate on PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from slotwise.bootstrap import Container, Worker
from slotwise.domain.jobs import Registry
from slotwise.queues.embedded import EmbeddedWorker
from slotwise.queues.procrastinate import ProcrastinateWorker


def wait_for(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@contextmanager
def running(container: Container, jobs: Registry | None = None) -> Iterator[Worker]:
    """The container's engine running `jobs` (default: every task, loop and periodic job
    the worker runs in production) in background threads until the block ends."""
    if jobs is None:
        worker: Worker = container.make_worker()
    elif container.settings.is_sqlite:
        worker = EmbeddedWorker(container.uow, jobs, poll_s=0.05)
    else:
        worker = ProcrastinateWorker(container.settings.database_url, container.uow, jobs,
                                     concurrency=2)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
