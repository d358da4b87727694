"""What an operator does with jobs: list them (the failed ones are the dead letters) and
put a failed one back to work."""

from __future__ import annotations

from datetime import UTC, datetime

from slotwise.domain.errors import InvalidTransition, NotFound
from slotwise.domain.jobs import Job, JobState
from slotwise.domain.ports import Clock, UnitOfWorkFactory


class OperateJobs:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def list(self, org_id: str, state: JobState | None, *, after: str | None = None,
             limit: int = 50) -> list[Job]:
        with self._uow() as uow:
            return uow.jobs.list(org_id, state, after=after, limit=limit)

    def get(self, org_id: str, job_id: str) -> Job:
        with self._uow() as uow:
            job = uow.jobs.get(org_id, job_id)
        if job is None:
            raise NotFound("no such job")
        return job

    def retry(self, org_id: str, job_id: str) -> Job:
        """Back to `todo` now (the engines' wall clock, as every job schedule)."""
        with self._uow(write=True) as uow:
            job = uow.jobs.get(org_id, job_id)
            if job is None:
                raise NotFound("no such job")
            if not uow.jobs.retry(org_id, job_id, datetime.now(UTC)):
                raise InvalidTransition(f"a {job.state.value} job cannot be retried; "
                                        "only failed ones can")
            uow.commit()
        return self.get(org_id, job_id)
