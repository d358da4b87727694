"""The periodic health check: is the work after a booking keeping up?

Each check returns None when healthy, else what is wrong. None of them stops the API: a
lagging worker delays confirmations, links and messages but bookings are still taken, so
/readyz answers `degraded`, not 503 (the database check alone is fatal, see bootstrap).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from slotwise.domain.ports import UnitOfWorkFactory


def _wall_now() -> datetime:
    # Job engines schedule on the wall clock (see store/jobs.py); so is their lag measured.
    return datetime.now(UTC)


def _guarded(check: Callable[[HealthChecks], str | None]) -> Callable[[HealthChecks], str | None]:
    """A check that cannot read its figures says so instead of raising: /readyz must answer
    (the database check itself decides whether it is 503)."""

    @functools.wraps(check)
    def guarded(self: HealthChecks) -> str | None:
        try:
            return check(self)
        except Exception as error:
            return f"cannot tell: {type(error).__name__}"

    return guarded


class HealthChecks:
    def __init__(self, uow: UnitOfWorkFactory, *, job_lag: timedelta = timedelta(seconds=60),
                 outbox_lag: timedelta = timedelta(seconds=30),
                 failures_window: timedelta = timedelta(hours=1)) -> None:
        self._uow = uow
        self._job_lag = job_lag
        self._outbox_lag = outbox_lag
        self._failures_window = failures_window

    @_guarded
    def jobs(self) -> str | None:
        """Worker lag: how long the oldest due job has waited for a worker."""
        now = _wall_now()
        with self._uow() as uow:
            count, oldest = uow.jobs.due(now)
        if oldest is not None and now - oldest > self._job_lag:
            return (f"{count} jobs wait for a worker; the oldest for "
                    f"{int((now - oldest).total_seconds())} s (is a worker running?)")
        return None

    @_guarded
    def outbox(self) -> str | None:
        """Outbox backlog: events the relay has not published yet."""
        now = _wall_now()
        with self._uow() as uow:
            count, oldest = uow.outbox.backlog()
        if oldest is not None and now - oldest > self._outbox_lag:
            return (f"{count} events wait for the relay; the oldest for "
                    f"{int((now - oldest).total_seconds())} s")
        return None

    @_guarded
    def integrations(self) -> str | None:
        """Failing integrations: jobs that ran out of attempts lately, per task."""
        with self._uow() as uow:
            failed = uow.jobs.failed_since(_wall_now() - self._failures_window)
        if failed:
            listed = ", ".join(f"{task} ×{n}" for task, n in sorted(failed.items()))
            hours = self._failures_window.total_seconds() / 3600
            return f"jobs failed for good in the last {hours:g} h: {listed}"
        return None
