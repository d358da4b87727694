"""Adapters of the LiveBus port (`domain.live`): Redis pub/sub, PostgreSQL LISTEN/NOTIFY and
in-process (one process on SQLite)."""

from slotwise.integrations.live.memory import InProcessLiveBus
from slotwise.integrations.live.postgres import PostgresLiveBus
from slotwise.integrations.live.redis import RedisLiveBus

__all__ = ["InProcessLiveBus", "PostgresLiveBus", "RedisLiveBus"]
