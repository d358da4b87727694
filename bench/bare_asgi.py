"""What the bench's bare ASGI apps (ceiling_asgi.py, refusal_lane.py) share: the lifespan
that opens their connections once per worker, and a request's whole body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def lifespan(receive: Receive, send: Send, start: Callable[[], Awaitable[None]]) -> None:
    """Answer uvicorn's lifespan messages, calling `start` once the worker starts."""
    while (await receive())["type"] != "lifespan.shutdown":
        await start()
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


async def body_of(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body
