from __future__ import annotations

from fastapi import APIRouter, Response

from slotwise.api.auth import BearerToken, CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.schemas.accounts import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyPage,
    LoginIn,
    OrgOut,
    OrgPatch,
    SignupIn,
    SignupOut,
    TokenOut,
    UserIn,
    UserOut,
)
from slotwise.domain.model import Organisation, Role

router = APIRouter(prefix="/v1", tags=["accounts"], responses=ERROR_RESPONSES)


@router.post("/signup", status_code=201, response_model=SignupOut)
def signup(body: SignupIn, app: App) -> dict[str, object]:
    done = app.accounts.signup(body.org_name, body.org_slug, body.email, body.password,
                               body.timezone)
    return {
        "org": {"id": done.org.id, "slug": done.org.slug, "name": done.org.name,
                "timezone": done.org.timezone},
        "user": {"id": done.user.id, "email": done.user.email, "role": done.user.role.value},
        "token": done.token,
    }


@router.post("/login", response_model=TokenOut)
def login(body: LoginIn, app: App) -> dict[str, str]:
    return {"token": app.accounts.login(body.email, body.password)}


@router.post("/logout", status_code=204, response_class=Response)
def logout(token: BearerToken, app: App) -> Response:
    """End the session whose token authenticates this call; an API key → 409 (revoke it)."""
    app.accounts.sign_out(token)
    return Response(status_code=204)


def _org(org: Organisation) -> dict[str, str]:
    return {"id": org.id, "slug": org.slug, "name": org.name, "timezone": org.timezone}


@router.get("/org", response_model=OrgOut)
def get_org(who: CurrentPrincipal, app: App) -> dict[str, str]:
    return _org(app.accounts.organisation(who.org_id))


@router.patch("/org", response_model=OrgOut)
def update_org(body: OrgPatch, who: CurrentPrincipal, app: App) -> dict[str, str]:
    return _org(app.accounts.update_organisation(who, name=body.name, timezone=body.timezone))


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
def create_api_key(body: ApiKeyIn, who: CurrentPrincipal, app: App) -> dict[str, object]:
    key, secret = app.accounts.create_api_key(who, body.name)
    return {"id": key.id, "name": key.name, "hint": key.hint, "created_at": key.created_at,
            "key": secret}


@router.get("/api-keys", response_model=ApiKeyPage)
def list_api_keys(who: CurrentPrincipal, app: App) -> dict[str, object]:
    keys = app.accounts.list_api_keys(who)
    return {"items": [{"id": k.id, "name": k.name, "hint": k.hint, "created_at": k.created_at}
                      for k in keys], "next_cursor": None}


@router.delete("/api-keys/{key_id}", status_code=204, response_class=Response)
def revoke_api_key(key_id: str, who: CurrentPrincipal, app: App) -> Response:
    app.accounts.revoke_api_key(who, key_id)
    return Response(status_code=204)


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(body: UserIn, who: CurrentPrincipal, app: App) -> dict[str, str]:
    user = app.accounts.create_user(who, body.email, body.password, Role(body.role))
    return {"id": user.id, "email": user.email, "role": user.role.value}
