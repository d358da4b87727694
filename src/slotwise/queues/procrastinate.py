"""The production job engine: procrastinate on PostgreSQL (many workers, retries with
exponential backoff, periodic jobs, stalled-worker detection, LISTEN/NOTIFY wake-ups).

Our tasks are registered under their own names; a job's procrastinate arguments are
`{"org_id": ..., "args": {...}}` (see `store.jobs.ProcrastinateJobQueue`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import traceback
from datetime import UTC, datetime
from typing import Any

import procrastinate
from sqlalchemy.engine import make_url

from slotwise.domain.jobs import Periodic, Registry, Task
from slotwise.queues.loops import LoopThreads
from slotwise.store.jobs import QUEUE
from slotwise.store.uow import SqlUnitOfWorkFactory

log = logging.getLogger("slotwise.worker")


def conninfo(database_url: str) -> str:
    """A libpq URL from SQLAlchemy's (`postgresql+psycopg://` → `postgresql://`)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def cron(every_s: int) -> str:
    """procrastinate's cron, whose optional sixth field is seconds."""
    if every_s < 60:
        return f"* * * * * */{every_s}"
    if every_s % 60 or every_s > 3600:
        raise ValueError("periods of a minute or more must be whole minutes up to an hour")
    return f"*/{every_s // 60} * * * *"


class ProcrastinateWorker:
    def __init__(self, database_url: str, uow: SqlUnitOfWorkFactory, registry: Registry, *,
                 concurrency: int = 4) -> None:
        self._uow = uow
        self._registry = registry
        self._concurrency = concurrency
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url)))
        for task in registry.tasks.values():
            self._register(task)
        for periodic in registry.periodic:
            self._register_periodic(periodic)
        self._stop = threading.Event()
        self._loops = LoopThreads(registry.loops, self._stop)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None

    def _register(self, task: Task) -> None:
        def run(context: procrastinate.JobContext, org_id: str | None,
                args: dict[str, Any]) -> None:
            self._run(task, context, args)

        self.app.task(name=task.name, queue=QUEUE, pass_context=True,
                      retry=procrastinate.RetryStrategy(max_attempts=task.max_attempts - 1,
                                                        exponential_wait=task.backoff_s))(run)

    def _register_periodic(self, periodic: Periodic) -> None:
        task = self._registry.tasks[periodic.task]

        def run(context: procrastinate.JobContext, timestamp: int) -> None:
            self._run(task, context, {})

        registered = self.app.task(name=f"periodic:{periodic.task}", queue=QUEUE,
                                   pass_context=True)(run)
        self.app.periodic(cron=cron(periodic.every_s), periodic_id=periodic.task)(registered)

    def _run(self, task: Task, context: procrastinate.JobContext,
             args: dict[str, Any]) -> None:
        job = context.job
        try:
            task.handler(args)
        except Exception:
            # procrastinate records that the attempt failed; keep why, for the jobs API.
            with self._uow(write=True) as uow:
                uow.jobs.record_error(str(job.id), job.attempts + 1, datetime.now(UTC),
                                      traceback.format_exc(limit=5))
                uow.commit()
            raise

    def start(self) -> None:
        self._loops.start()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),),
                                        name="procrastinate", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Run in this thread until interrupted (`slotwise worker`)."""
        self._loops.start()
        try:
            asyncio.run(self._serve(install_signal_handlers=True))
        finally:
            self._stop.set()
            self._loops.join()

    async def _serve(self, install_signal_handlers: bool = False) -> None:
        self._loop = asyncio.get_running_loop()
        async with self.app.open_async():
            self._main = asyncio.current_task()
            with contextlib.suppress(asyncio.CancelledError):
                await self.app.run_worker_async(
                    queues=[QUEUE], concurrency=self._concurrency, wait=True,
                    install_signal_handlers=install_signal_handlers,
                    fetch_job_polling_interval=1.0, delete_jobs="successful")

    def stop(self, timeout_s: float = 10) -> None:
        self._stop.set()
        if self._loop is not None and self._main is not None:
            self._loop.call_soon_threadsafe(self._main.cancel)
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._loops.join(timeout_s)
