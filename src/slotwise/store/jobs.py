"""The job queue inside a unit of work: on SQLite our own `jobs` table, on PostgreSQL
procrastinate's tables, written through procrastinate's versioned SQL functions.

Either way a job is deferred in the caller's transaction, so it exists exactly when the change
that needs it commits. The engines' workers live in `slotwise.queues`.
"""

from __future__ import annotations

import builtins
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, text, update
from sqlalchemy.engine import Connection

from slotwise.domain.jobs import Job, JobError, JobSpec, JobState
from slotwise.store.tables import job_errors, jobs

QUEUE = "slotwise"


class _Errors:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def record_error(self, job_id: str, attempt: int, at: datetime, error: str) -> None:
        self._c.execute(insert(job_errors).values(job_id=job_id, attempt=attempt, at=at,
                                                  error=error[:4000]))

    def _errors(self, job_ids: list[str]) -> dict[str, list[JobError]]:
        found: dict[str, list[JobError]] = {}
        if not job_ids:
            return found
        rows = self._c.execute(select(job_errors).where(job_errors.c.job_id.in_(job_ids))
                               .order_by(job_errors.c.id)).mappings()
        for row in rows:
            found.setdefault(row["job_id"], []).append(
                JobError(attempt=row["attempt"], at=row["at"], error=row["error"]))
        return found

    def _with_errors(self, found: list[Job]) -> list[Job]:
        errors = self._errors([j.id for j in found])
        return [_attach(j, errors.get(j.id, [])) for j in found]


def _attach(job: Job, errors: list[JobError]) -> Job:
    return Job(id=job.id, task=job.task, args=job.args, org_id=job.org_id, state=job.state,
               attempts=job.attempts, scheduled_at=job.scheduled_at,
               last_error=errors[-1].error if errors else None, errors=tuple(errors))


class SqliteJobQueue(_Errors):
    """The embedded engine's queue: one table, claimed by the in-process worker."""

    def defer(self, spec: JobSpec) -> str:
        now = _now()
        result = self._c.execute(insert(jobs).values(
            org_id=spec.org_id, task=spec.task, args=spec.args, state=JobState.TODO.value,
            attempts=0, scheduled_at=spec.run_at or now, created_at=now,
        ))
        key = result.inserted_primary_key
        assert key is not None
        return str(key[0])

    def list(self, org_id: str, state: JobState | None, *, after: str | None = None,
             limit: int = 50) -> list[Job]:
        query = select(jobs).where(jobs.c.org_id == org_id)
        if state is not None:
            query = query.where(jobs.c.state == state.value)
        if after is not None:
            query = query.where(jobs.c.id < int(after))
        rows = self._c.execute(query.order_by(jobs.c.id.desc()).limit(limit)).mappings()
        return self._with_errors([_sqlite_job(row) for row in rows])

    def get(self, org_id: str, job_id: str) -> Job | None:
        if not job_id.isdigit():
            return None
        row = self._c.execute(select(jobs).where(jobs.c.org_id == org_id,
                                                 jobs.c.id == int(job_id))).mappings().first()
        return None if row is None else self._with_errors([_sqlite_job(row)])[0]

    def retry(self, org_id: str, job_id: str, at: datetime) -> bool:
        if not job_id.isdigit():
            return False
        done = self._c.execute(update(jobs).where(
            jobs.c.org_id == org_id, jobs.c.id == int(job_id),
            jobs.c.state == JobState.FAILED.value,
        ).values(state=JobState.TODO.value, scheduled_at=at, finished_at=None))
        return done.rowcount == 1

    def stuck(self, before: datetime) -> builtins.list[Job]:
        rows = self._c.execute(select(jobs).where(
            jobs.c.state == JobState.DOING.value, jobs.c.started_at < before,
        ).order_by(jobs.c.id)).mappings()
        return [_sqlite_job(row) for row in rows]

    def due(self, now: datetime) -> tuple[int, datetime | None]:
        count, oldest = self._c.execute(select(func.count(), func.min(jobs.c.scheduled_at))
                                        .where(jobs.c.state == JobState.TODO.value,
                                               jobs.c.scheduled_at <= now)).one()
        return int(count), oldest

    def failed_since(self, since: datetime) -> dict[str, int]:
        rows = self._c.execute(select(jobs.c.task, func.count())
                               .where(jobs.c.state == JobState.FAILED.value,
                                      jobs.c.finished_at >= since)
                               .group_by(jobs.c.task))
        return {task: int(n) for task, n in rows}

    def requeue(self, job_id: str, at: datetime) -> bool:
        done = self._c.execute(update(jobs).where(
            jobs.c.id == int(job_id), jobs.c.state == JobState.DOING.value,
        ).values(state=JobState.TODO.value, scheduled_at=at, started_at=None))
        return done.rowcount == 1

    # The worker's side (slotwise.queues.embedded); not part of the port.

    def claim(self, now: datetime) -> Job | None:
        """The next due job, marked `doing` (SQLite's single writer makes this race-free)."""
        row = self._c.execute(select(jobs).where(
            jobs.c.state == JobState.TODO.value, jobs.c.scheduled_at <= now,
        ).order_by(jobs.c.scheduled_at, jobs.c.id).limit(1)).mappings().first()
        if row is None:
            return None
        self._c.execute(update(jobs).where(jobs.c.id == row["id"]).values(
            state=JobState.DOING.value, started_at=now, attempts=jobs.c.attempts + 1))
        job = _sqlite_job(row)
        return Job(id=job.id, task=job.task, args=job.args, org_id=job.org_id,
                   state=JobState.DOING, attempts=job.attempts + 1,
                   scheduled_at=job.scheduled_at)

    def finish(self, job_id: str, state: JobState, now: datetime,
               retry_at: datetime | None = None) -> None:
        """Record an attempt's end: done, failed for good, or back to `todo` at `retry_at`."""
        values: dict[str, Any] = {"state": state.value, "finished_at": now}
        if retry_at is not None:
            values = {"state": JobState.TODO.value, "scheduled_at": retry_at,
                      "started_at": None}
        self._c.execute(update(jobs).where(jobs.c.id == int(job_id)).values(**values))

    def reset_doing(self, now: datetime) -> int:
        """At start-up: the one embedded worker is new, so any `doing` job lost its worker."""
        done = self._c.execute(update(jobs).where(jobs.c.state == JobState.DOING.value)
                               .values(state=JobState.TODO.value, scheduled_at=now,
                                       started_at=None))
        return done.rowcount

    def has_pending(self, task: str) -> bool:
        return self._c.execute(select(jobs.c.id).where(and_(
            jobs.c.task == task,
            jobs.c.state.in_([JobState.TODO.value, JobState.DOING.value]),
        )).limit(1)).first() is not None


def _sqlite_job(row: Any) -> Job:
    return Job(id=str(row["id"]), task=row["task"], args=row["args"], org_id=row["org_id"],
               state=JobState(row["state"]), attempts=row["attempts"],
               scheduled_at=row["scheduled_at"])


# procrastinate's job states that the port names differently.
_PG_STATES = {"todo": JobState.TODO, "doing": JobState.DOING,
              "succeeded": JobState.SUCCEEDED, "failed": JobState.FAILED,
              "cancelled": JobState.CANCELLED, "aborting": JobState.DOING,
              "aborted": JobState.CANCELLED}

_PG_COLUMNS = "id, task_name, args, status, attempts, scheduled_at"


class ProcrastinateJobQueue(_Errors):
    """Jobs in procrastinate's tables. `args` carries `org_id` (procrastinate has no tenant
    column), and the task's keyword arguments under `args`."""

    def defer(self, spec: JobSpec) -> str:
        args = {"org_id": spec.org_id, "args": spec.args}
        job_id = self._c.execute(text(
            "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL,"
            " CAST(:args AS jsonb), CAST(:at AS timestamptz))::procrastinate_job_to_defer_v1]))"
        ), {"queue": QUEUE, "task": spec.task, "args": _json(args),
            "at": spec.run_at}).scalar_one()
        return str(job_id)

    def list(self, org_id: str, state: JobState | None, *, after: str | None = None,
             limit: int = 50) -> list[Job]:
        where = ["args->>'org_id' = :org"]
        params: dict[str, Any] = {"org": org_id, "limit": limit}
        if state is not None:
            statuses = [k for k, v in _PG_STATES.items() if v is state]
            where.append("status::text = ANY(CAST(:statuses AS text[]))")
            params["statuses"] = statuses
        if after is not None and after.isdigit():
            where.append("id < :after")
            params["after"] = int(after)
        rows = self._c.execute(text(
            f"SELECT {_PG_COLUMNS} FROM procrastinate_jobs WHERE {' AND '.join(where)} "
            "ORDER BY id DESC LIMIT :limit"), params).mappings()
        return self._with_errors([_pg_job(row) for row in rows])

    def get(self, org_id: str, job_id: str) -> Job | None:
        if not job_id.isdigit():
            return None
        row = self._c.execute(text(
            f"SELECT {_PG_COLUMNS} FROM procrastinate_jobs "
            "WHERE id = :id AND args->>'org_id' = :org"),
            {"id": int(job_id), "org": org_id}).mappings().first()
        return None if row is None else self._with_errors([_pg_job(row)])[0]

    def retry(self, org_id: str, job_id: str, at: datetime) -> bool:
        if self.get(org_id, job_id) is None:
            return False
        done = self._c.execute(text(
            "UPDATE procrastinate_jobs SET status = 'todo', scheduled_at = :at "
            "WHERE id = :id AND status = 'failed'"), {"id": int(job_id), "at": at})
        return done.rowcount == 1

    def stuck(self, before: datetime) -> builtins.list[Job]:
        # Workers beat every 10 s; a stalled one is pruned (its jobs' worker_id set NULL).
        rows = self._c.execute(text(
            f"SELECT {_PG_COLUMNS} FROM procrastinate_jobs j WHERE j.status = 'doing' AND "
            "(j.worker_id IS NULL OR (SELECT w.last_heartbeat FROM procrastinate_workers w "
            " WHERE w.id = j.worker_id) < :before) ORDER BY j.id"),
            {"before": before}).mappings()
        return [_pg_job(row) for row in rows]

    def due(self, now: datetime) -> tuple[int, datetime | None]:
        row = self._c.execute(text(
            "SELECT count(*), min(coalesce(j.scheduled_at, (SELECT min(e.at) FROM "
            "procrastinate_events e WHERE e.job_id = j.id))) FROM procrastinate_jobs j "
            "WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= :now)"),
            {"now": now}).one()
        return int(row[0]), row[1]

    def failed_since(self, since: datetime) -> dict[str, int]:
        rows = self._c.execute(text(
            "SELECT j.task_name, count(*) FROM procrastinate_jobs j WHERE j.status = 'failed' "
            "AND EXISTS (SELECT 1 FROM procrastinate_events e WHERE e.job_id = j.id "
            "AND e.type = 'failed' AND e.at >= :since) GROUP BY j.task_name"),
            {"since": since})
        return {task: int(n) for task, n in rows}

    def requeue(self, job_id: str, at: datetime) -> bool:
        done = self._c.execute(text(
            "UPDATE procrastinate_jobs SET status = 'todo', scheduled_at = :at, worker_id = NULL "
            "WHERE id = :id AND status = 'doing'"), {"id": int(job_id), "at": at})
        return done.rowcount == 1


def _pg_job(row: Any) -> Job:
    wrapped = row["args"] or {}
    return Job(id=str(row["id"]), task=row["task_name"], args=wrapped.get("args", {}),
               org_id=wrapped.get("org_id"), state=_PG_STATES[row["status"]],
               attempts=row["attempts"], scheduled_at=row["scheduled_at"])


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _now() -> datetime:
    """Engines schedule on the wall clock: a frozen app clock (demos, tests) must not stop
    retries from coming due. Domain schedules (reminders, deadlines) use the app clock."""
    return datetime.now(UTC)
