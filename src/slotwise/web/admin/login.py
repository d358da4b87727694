"""Sign in and out of the admin pages."""

from __future__ import annotations

import contextlib
import hmac

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from slotwise.domain.errors import DomainError, Unauthenticated
from slotwise.web.admin.session import (
    COOKIE,
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    AdminRoute,
    Form,
    new_login_csrf,
    render,
    safe_next,
    set_session,
    text,
    use_cases,
)

router = APIRouter(route_class=AdminRoute)


def _login_page(request: Request, *, next_path: str, email: str = "", error: str = "",
                status_code: int = 200) -> HTMLResponse:
    token = new_login_csrf()
    response = render(request, None, "login.html", status_code=status_code,
                      csrf=token, next_path=next_path, email=email, error=error)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        path="/admin", secure=request.url.scheme == "https")
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(request, next_path=safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    sent, expected = form.get(CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE)
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        return render(request, None, "failed.html", status_code=403,
                      error="csrf", back_to="/admin/login")
    email, password = text(form, "email"), form.get("password")
    next_path = safe_next(text(form, "next"))
    try:
        token = await run_in_threadpool(use_cases(request).accounts.login, email,
                                        password if isinstance(password, str) else "")
    except Unauthenticated:
        return _login_page(request, next_path=next_path, email=email, error="credentials",
                           status_code=401)
    response = RedirectResponse(next_path, status_code=303)
    set_session(response, request, token)
    return response


@router.post("/logout")
def logout(request: Request, form: Form) -> Response:
    """Ends the session on the server too, so a copy of the cookie is worthless afterwards."""
    token = request.cookies.get(COOKIE)
    if token:  # `Form` already checked it is a live session (and its CSRF token)
        # ended meanwhile (another tab): signed out all the same
        with contextlib.suppress(DomainError):
            use_cases(request).accounts.sign_out(token)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response
