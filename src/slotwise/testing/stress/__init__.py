"""The stress and fault harness: live servers, private PostgreSQL and Redis, asyncio clients,
scenarios, and the invariant checker that reads the database afterwards (issue 4)."""
