"""The LiveBus of a single process (SQLite): messages are handed to this process's listener
through a queue, read by its one thread, so a slow fan-out never blocks the publisher."""

from __future__ import annotations

import contextlib
import queue
import threading

from slotwise.domain.live import Deliver, LiveMessage

QUEUE_SIZE = 10_000


class InProcessLiveBus:
    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, LiveMessage] | None] = queue.Queue(QUEUE_SIZE)
        self._thread: threading.Thread | None = None

    def publish(self, org_id: str, message: LiveMessage) -> None:
        if self._thread is None:
            return  # nobody listens in this process
        # Hints, not state: when the listener is this far behind, one more is not missed.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait((org_id, message))

    def start(self, deliver: Deliver) -> None:
        def run() -> None:
            while (item := self._queue.get()) is not None:
                deliver(*item)

        self._thread = threading.Thread(target=run, name="live-bus", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(5)
            self._thread = None
