"""Jobs: list them by state (`failed` is the dead-letter list) and retry a failed one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from slotwise.api import cursors
from slotwise.api.auth import CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.schemas.jobs import JobOut, JobPage, JobStateName
from slotwise.app.accounts import require_admin
from slotwise.domain.jobs import Job, JobState

router = APIRouter(prefix="/v1", tags=["jobs"], responses=ERROR_RESPONSES)


def job_out(job: Job) -> dict[str, Any]:
    return {"id": job.id, "task": job.task, "state": job.state.value,
            "attempts": job.attempts, "scheduled_at": job.scheduled_at, "args": job.args,
            "last_error": job.last_error,
            "errors": [{"attempt": e.attempt, "at": e.at, "error": e.error}
                       for e in job.errors]}


@router.get("/jobs", response_model=JobPage)
def list_jobs(who: CurrentPrincipal, app: App, state: JobStateName | None = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50,
              cursor: str | None = None) -> dict[str, Any]:
    """The organisation's jobs, newest first; `state=failed` lists those out of attempts."""
    after = cursors.decode(app.cursor_secret, cursor) if cursor else None
    found = app.jobs.list(who.org_id, JobState(state) if state else None,
                          after=after, limit=limit + 1)
    items = found[:limit]
    next_cursor = (cursors.encode(app.cursor_secret, items[-1].id)
                   if len(found) > limit and items else None)
    return {"items": [job_out(j) for j in items], "next_cursor": next_cursor}


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    return job_out(app.jobs.get(who.org_id, job_id))


@router.post("/jobs/{job_id}/retry", response_model=JobOut)
def retry_job(job_id: str, who: CurrentPrincipal, app: App) -> dict[str, Any]:
    """Put a failed job back to work now (owner or admin); any other state → 409."""
    require_admin(who)
    return job_out(app.jobs.retry(who.org_id, job_id))
