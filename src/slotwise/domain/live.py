"""Live updates: short messages telling the pages of an organisation that something they
show has changed (a slot taken or freed), fanned out to every server process.

A message is a JSON object; the one kind today is ``{"type": "slots", "service_ids": [...],
"resource_ids": [...], "start": iso, "end": iso}``: availability of those services, or of any
service drawing on those resources, may have changed in ``[start, end)``. Messages are hints
to re-read, never state: a lost or repeated one costs a stale view or a second read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

LiveMessage = dict[str, Any]
Deliver = Callable[[str, LiveMessage], None]  # (org_id, message), called from the bus thread


class LiveBus(Protocol):
    """Publish to every server process; each process listens with one thread."""

    def publish(self, org_id: str, message: LiveMessage) -> None:
        """Send `message` to every listening process (this one included). Best effort: an
        unreachable broker raises, and the caller decides whether that matters."""
        ...

    def start(self, deliver: Deliver) -> None:
        """Start this process's one listening thread, calling `deliver` per message (from
        that thread) until `stop`. It reconnects by itself after a broker outage."""
        ...

    def stop(self) -> None:
        ...
