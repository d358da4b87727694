"""Live updates as server-sent events: a page showing a service's slots listens here and
re-reads the day a `slots` event overlaps (`app.live`; fed from the outbox)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.routers.public import service_by_slug
from slotwise.app.live import LiveStream, LiveUpdates, StreamDropped

router = APIRouter(prefix="/v1/public", tags=["public"], responses=ERROR_RESPONSES)

HEARTBEAT_S = 15.0  # a comment line this often keeps proxies from closing an idle stream
RETRY_MS = 1000  # how soon EventSource reconnects after the stream ends


@router.get("/{org_slug}/live", response_class=StreamingResponse, responses={200: {
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
    "description": "Server-sent events: `event: slots` with a JSON `data` line "
                   "`{type, service_ids, resource_ids, start, end}`; a `: heartbeat` "
                   "comment every 15 s; a `retry:` hint first."}})
async def live(org_slug: str, app: App, request: Request,
               service: Annotated[str | None, Query(
                   max_length=200, description="a service's slug: only its updates (those "
                   "of the service, or of any resource it could use)")] = None
               ) -> StreamingResponse:
    """An organisation's live updates: `slots` when a booking takes or frees time (made,
    moved, cancelled, failed or declined). Unknown organisation or service → 404."""
    org = await run_in_threadpool(app.accounts.organisation_by_slug, org_slug)
    service_id, resource_ids = None, frozenset[str]()
    if service is not None:
        service_id = (await run_in_threadpool(service_by_slug, app, org.id, service)).id
        resource_ids = await run_in_threadpool(app.live.resources_of, org.id, service_id)
    stream = app.live.open(org.id, service_id, resource_ids)
    return StreamingResponse(_events(app.live, stream), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _events(live: LiveUpdates, stream: LiveStream) -> AsyncIterator[str]:
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while True:  # until the client goes: Starlette then cancels this generator
            try:
                message = await stream.next(HEARTBEAT_S)
            except StreamDropped:
                return  # the client reconnects (retry) and re-reads
            if message is None:
                yield ": heartbeat\n\n"
                continue
            yield f"event: {message.get('type', 'message')}\ndata: {json.dumps(message)}\n\n"
    finally:
        live.close(stream)
