"""Threads that keep running a step (the outbox relay) until told to stop."""

from __future__ import annotations

import logging
import threading

from slotwise.domain.jobs import Loop

log = logging.getLogger("slotwise.worker")


class LoopThreads:
    def __init__(self, loops: tuple[Loop, ...], stop: threading.Event) -> None:
        self._loops = loops
        self._stop = stop
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for loop in self._loops:
            thread = threading.Thread(target=self._run, args=(loop,), name=f"loop-{loop.name}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self, timeout_s: float = 10) -> None:
        for thread in self._threads:
            thread.join(timeout_s)

    def _run(self, loop: Loop) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                done = loop.step()
                failures = 0
            except Exception:
                # A database outage must not kill the loop: back off, then try again.
                failures += 1
                log.exception("loop %s failed", loop.name)
                self._stop.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))
                continue
            if done == 0:
                self._stop.wait(loop.idle_s)
