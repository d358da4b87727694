"""Jobs: work done after a commit, by whichever job engine the deployment runs.

A job is deferred inside the transaction that makes it necessary (`uow.jobs.defer`), so it
exists exactly when that change does. The engine runs it at least once; every handler is
idempotent, so a repeat (a retry, a worker killed mid-job) changes nothing anyone sees.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class JobState(StrEnum):
    TODO = "todo"  # waiting for its time or a worker
    DOING = "doing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # out of attempts: the dead-letter state, retried only by an operator
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job to defer. `args` must be JSON; `org_id` scopes who may list and retry it."""

    task: str
    args: dict[str, Any]
    org_id: str | None = None
    run_at: datetime | None = None  # None: as soon as a worker is free


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    task: str
    args: dict[str, Any]
    org_id: str | None
    state: JobState
    attempts: int
    scheduled_at: datetime | None
    last_error: str | None = None
    errors: tuple[JobError, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class JobError:
    attempt: int
    at: datetime
    error: str


class JobQueue(Protocol):
    """The job engine as the use cases see it, bound to one unit of work."""

    def defer(self, spec: JobSpec) -> str:
        """Enqueue in the current transaction; the job runs only if it commits."""
        ...

    def list(self, org_id: str, state: JobState | None, *, after: str | None = None,
             limit: int = 50) -> list[Job]:
        """The organisation's jobs, newest first, before the id `after`."""
        ...

    def get(self, org_id: str, job_id: str) -> Job | None: ...

    def retry(self, org_id: str, job_id: str, at: datetime) -> bool:
        """Put a failed job back to work; False when it is not failed."""
        ...

    def record_error(self, job_id: str, attempt: int, at: datetime, error: str) -> None:
        """Keep why an attempt failed (engines keep only that it did)."""
        ...

    def stuck(self, before: datetime) -> builtins.list[Job]:
        """Jobs still `doing` whose worker is gone: on PostgreSQL its heartbeat stopped
        before then (or procrastinate pruned it); embedded, the job started before then."""
        ...

    def due(self, now: datetime) -> tuple[int, datetime | None]:
        """Jobs of every organisation waiting for a worker, and since when the oldest has."""
        ...

    def failed_since(self, since: datetime) -> dict[str, int]:
        """Jobs that ran out of attempts since then, per task (failing integrations)."""
        ...

    def requeue(self, job_id: str, at: datetime) -> bool:
        """Put a stuck `doing` job back to `todo`; False when it is no longer doing."""
        ...


JobHandler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Task:
    """A job kind: its handler, and how often and how patiently it is retried.

    Attempt n (1-based) that fails waits `backoff_s ** n` seconds before the next; after
    `max_attempts` the job is `failed` (dead-lettered) until an operator retries it.
    """

    name: str
    handler: JobHandler
    max_attempts: int = 8
    backoff_s: int = 2


@dataclass(frozen=True, slots=True)
class Periodic:
    """A task deferred every `every_s` seconds (one job per period across all workers)."""

    task: str
    every_s: int


@dataclass(frozen=True, slots=True)
class Loop:
    """Work a worker keeps doing in its own thread: `step` returns how much it did; at 0 the
    loop waits `idle_s` before the next step."""

    name: str
    step: Callable[[], int]
    idle_s: float = 0.2


@dataclass(frozen=True, slots=True)
class Registry:
    """Everything a worker process runs; built by `slotwise.worker.tasks`."""

    tasks: dict[str, Task]
    periodic: tuple[Periodic, ...] = ()
    loops: tuple[Loop, ...] = ()
