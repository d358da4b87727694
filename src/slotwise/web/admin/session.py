"""Who is at the admin pages: a session token (from the login use case) in an HttpOnly
cookie, resolved to a Principal on every request, and the CSRF check every POST passes.

The CSRF token of a session is an HMAC of its session token (per session, nothing stored);
before login a random token sits in a cookie of its own and in the form (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from slotwise.app.container import UseCases
from slotwise.domain.errors import NotFound, Unauthenticated
from slotwise.domain.model import Organisation, Principal

COOKIE = "slotwise_admin"
LOGIN_CSRF_COOKIE = "slotwise_admin_login"
CSRF_FIELD = "csrf"


class SignInRequired(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class Refused(Exception):
    """`reason`: "role" (staff at a setup page) or "csrf" (a POST without its token)."""

    def __init__(self, admin: Admin | None, reason: str) -> None:
        super().__init__(reason)
        self.admin = admin
        self.reason = reason


class AdminRoute(APIRoute):
    """Answers the admin pages' own outcomes as pages (a redirect to sign in, a 403 page);
    the API's exception handlers answer with problem+json, which suits no browser."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as outcome:
                return RedirectResponse(outcome.location, status_code=303)
            except Refused as outcome:
                return render(request, outcome.admin, "failed.html", status_code=403,
                              error=outcome.reason, detail="", back_to="/admin")
        return guarded


def use_cases(request: Request) -> UseCases:
    found: UseCases = request.app.state.use_cases
    return found


@dataclass(frozen=True, slots=True)
class Admin:
    principal: Principal
    org: Organisation
    csrf: str

    @property
    def manages_setup(self) -> bool:
        return self.principal.role.manages_setup


def csrf_token(secret: bytes, session_token: str) -> str:
    return hmac.new(secret, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def safe_next(target: str | None) -> str:
    """Only a path of the admin pages: never another site (open redirect)."""
    if target and target.startswith("/admin") and not target.startswith("//") \
            and "\\" not in target:
        return target
    return "/admin"


async def current_admin(request: Request) -> Admin:
    """The signed-in user, else a redirect (303) to the login page."""
    token = request.cookies.get(COOKIE)
    app = use_cases(request)
    if token:
        try:
            principal = await run_in_threadpool(app.accounts.authenticate, token)
            org = await run_in_threadpool(app.accounts.organisation, principal.org_id)
        except (Unauthenticated, NotFound):
            pass
        else:
            return Admin(principal=principal, org=org,
                         csrf=csrf_token(app.cursor_secret, token))
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise SignInRequired(f"/admin/login?next={quote(here)}")


CurrentAdmin = Annotated[Admin, Depends(current_admin)]


async def setup_admin(admin: CurrentAdmin) -> Admin:
    """Owners and admins only: staff manage bookings, not the setup."""
    if not admin.manages_setup:
        raise Refused(admin, "role")
    return admin


SetupAdmin = Annotated[Admin, Depends(setup_admin)]


async def posted_form(request: Request, admin: CurrentAdmin) -> FormData:
    """The POSTed form, once its CSRF token matches the session's (else 403)."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, admin.csrf):
        raise Refused(admin, "csrf")
    return form


Form = Annotated[FormData, Depends(posted_form)]


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def set_session(response: RedirectResponse, request: Request, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", path="/admin",
                        secure=request.url.scheme == "https")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")


def render(request: Request, admin: Admin | None, template: str, *, active: str = "",
           status_code: int = 200, **context: Any) -> HTMLResponse:
    pages = request.app.state.pages
    response: HTMLResponse = pages.render(request, f"admin/{template}", status_code,
                                          admin=admin, active=active, **context)
    response.headers["Cache-Control"] = "no-store"
    return response


def back(target: str | None) -> RedirectResponse:
    return RedirectResponse(safe_next(target), status_code=303)


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
