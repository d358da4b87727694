"""Job engines: the worker side of `slotwise.domain.jobs` (the embedded SQLite engine, and
procrastinate on PostgreSQL), plus the loops every worker process runs (the outbox relay)."""
