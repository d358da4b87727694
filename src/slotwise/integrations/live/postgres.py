"""The LiveBus over PostgreSQL LISTEN/NOTIFY (PostgreSQL without Redis): one channel per
deployment, payloads `{"org_id", "message"}` as JSON (well under NOTIFY's 8000 bytes). Each
process's thread LISTENs on its own connection and reconnects after an outage."""

from __future__ import annotations

import json
import logging
import threading

import psycopg

from slotwise.domain.live import Deliver, LiveMessage
from slotwise.integrations.live.redis import _deliver

log = logging.getLogger("slotwise.live")


def libpq_url(database_url: str) -> str:
    """SQLAlchemy's `postgresql+psycopg://` URL as libpq takes it."""
    scheme, _, rest = database_url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else database_url


class PostgresLiveBus:
    def __init__(self, database_url: str, channel: str = "slotwise_live") -> None:
        self.channel = channel
        self._url = libpq_url(database_url)
        self._lock = threading.Lock()  # one publishing connection, shared by threads
        self._publisher: psycopg.Connection[tuple[object, ...]] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish(self, org_id: str, message: LiveMessage) -> None:
        payload = json.dumps({"org_id": org_id, "message": message})
        with self._lock:
            for attempt in (1, 2):  # once more on a fresh connection after a broken one
                try:
                    if self._publisher is None or self._publisher.closed:
                        self._publisher = psycopg.connect(self._url, autocommit=True,
                                                          connect_timeout=5)
                    self._publisher.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
                    return
                except psycopg.OperationalError:
                    self._close_publisher()
                    if attempt == 2:
                        raise

    def start(self, deliver: Deliver) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._listen, args=(deliver,),
                                        name="live-postgres", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        with self._lock:
            self._close_publisher()

    def _close_publisher(self) -> None:
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None

    def _listen(self, deliver: Deliver) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    failures = 0
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            _deliver(deliver, notice.payload)
            except psycopg.Error:
                failures += 1
                log.warning("live updates: PostgreSQL LISTEN failed, retrying", exc_info=True)
                self._stop.wait(min(10.0, 0.5 * 2 ** min(failures, 5)))
