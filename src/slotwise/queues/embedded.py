"""The embedded job engine: jobs in the SQLite database, run by threads of `slotwise serve`.

Durable: a job is a row deferred in its cause's transaction; a restart finds every job that
was not finished (those caught `doing` go back to `todo`, and their handlers are idempotent).
One process only, as SQLite allows; production runs procrastinate (`queues.procrastinate`).
"""

from __future__ import annotations

import logging
import threading
import traceback
from datetime import UTC, datetime, timedelta
from typing import cast

from slotwise.domain.jobs import Job, JobSpec, JobState, Registry, Task
from slotwise.queues.loops import LoopThreads
from slotwise.store.jobs import SqliteJobQueue
from slotwise.store.uow import SqlUnitOfWorkFactory

log = logging.getLogger("slotwise.worker")


def _now() -> datetime:
    return datetime.now(UTC)


def _ceil(instant: datetime) -> datetime:
    """Up to the whole second the store keeps, so that no retry comes due early."""
    whole = instant.replace(microsecond=0)
    return whole if whole == instant else whole + timedelta(seconds=1)


class EmbeddedWorker:
    def __init__(self, uow: SqlUnitOfWorkFactory, registry: Registry, *,
                 poll_s: float = 0.2) -> None:
        self._uow = uow
        self._registry = registry
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._loops = LoopThreads(registry.loops, self._stop)
        self._thread: threading.Thread | None = None
        self._next_periodic = {p.task: _now() for p in registry.periodic}

    def start(self) -> None:
        with self._uow(write=True) as uow:
            lost = cast(SqliteJobQueue, uow.jobs).reset_doing(_now())
            uow.commit()
        if lost:
            log.warning("%d jobs were running when the last process stopped; redoing them", lost)
        self._loops.start()
        self._thread = threading.Thread(target=self._run, name="jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._loops.join(timeout_s)

    def run_until_idle(self, max_jobs: int = 10_000) -> int:
        """Run every due job and loop step now, in this thread (tests, `slotwise doctor`)."""
        done = 0
        while done < max_jobs:
            stepped = sum(loop.step() for loop in self._registry.loops)
            ran = self._run_one()
            if not ran and not stepped:
                break
            done += ran
        return done

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._defer_periodic()
                if not self._run_one():
                    self._stop.wait(self._poll_s)
            except Exception:
                log.exception("embedded worker step failed")
                self._stop.wait(1.0)

    def _defer_periodic(self) -> None:
        now = _now()
        for periodic in self._registry.periodic:
            if now < self._next_periodic[periodic.task]:
                continue
            self._next_periodic[periodic.task] = now + timedelta(seconds=periodic.every_s)
            with self._uow(write=True) as uow:
                queue = cast(SqliteJobQueue, uow.jobs)
                if not queue.has_pending(periodic.task):
                    queue.defer(JobSpec(task=periodic.task, args={}))
                    uow.commit()

    def _run_one(self) -> int:
        with self._uow() as uow:
            if uow.jobs.due(_now())[0] == 0:
                return 0  # a read: an idle worker takes no write lock
        with self._uow(write=True) as uow:
            job = cast(SqliteJobQueue, uow.jobs).claim(_now())
            uow.commit()
        if job is None:
            return 0
        task = self._registry.tasks.get(job.task)
        error: str | None = None
        if task is None:
            error = f"no task named {job.task!r}"
        else:
            try:
                task.handler(job.args)
            except Exception:
                error = traceback.format_exc(limit=5)
                log.warning("job %s (%s) attempt %d failed", job.id, job.task, job.attempts,
                            exc_info=True)
        self._finish(job, task, error)
        return 1

    def _finish(self, job: Job, task: Task | None, error: str | None) -> None:
        now = _now()
        with self._uow(write=True) as uow:
            queue = cast(SqliteJobQueue, uow.jobs)
            if error is None:
                queue.finish(job.id, JobState.SUCCEEDED, now)
            else:
                queue.record_error(job.id, job.attempts, now, error)
                if task is not None and job.attempts < task.max_attempts:
                    wait = timedelta(seconds=task.backoff_s ** job.attempts)
                    queue.finish(job.id, JobState.TODO, now, retry_at=_ceil(now + wait))
                else:
                    queue.finish(job.id, JobState.FAILED, now)
            uow.commit()
