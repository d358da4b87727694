"""The admin pages at /admin: sign-in, the bookings board, resources and their hours,
services, live holds, and the operations lists. Server-rendered; htmx only refreshes the board."""

from __future__ import annotations

from fastapi import APIRouter

from slotwise.web.admin import bookings, holds, login, operations, resources, services
from slotwise.web.admin.session import AdminRoute

router = APIRouter(prefix="/admin", include_in_schema=False)
for part in (login, bookings, holds, resources, services, operations):
    router.include_router(part.router)
# /admin lands on the board
router.add_api_route("", bookings.board, methods=["GET"], route_class_override=AdminRoute)
