from __future__ import annotations

from fastapi import APIRouter, Response

from slotwise.api.auth import CurrentPrincipal
from slotwise.api.deps import App
from slotwise.api.errors import ERROR_RESPONSES
from slotwise.api.schemas.accounts import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyPage,
    LoginIn,
    SignupIn,
    SignupOut,
    TokenOut,
    UserIn,
    UserOut,
)
from slotwise.domain.model import Role

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
