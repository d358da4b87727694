"""The OAuth 2 authorisation-code flow for Google and Microsoft calendars (`OAuthClient`), and
the token-endpoint call both flows and `MicrosoftCalendar`'s refresh share.

    GoogleOAuth(client_id, client_secret, *, auth_url=GOOGLE_AUTH_URL,
                token_url=GOOGLE_TOKEN_URI, client=None, timeout_s=10.0, now=...)
    MicrosoftOAuth(client_id, client_secret, *, tenant="common", authority=MICROSOFT_AUTHORITY,
                   client=None, timeout_s=10.0, now=...)

`authorize_url(state, redirect_uri)` carries the caller's `state` as given (the caller signs
and checks it). Google asks for `access_type=offline&prompt=consent`, without which no refresh
token comes back on a second consent; Microsoft asks for `offline_access` for the same reason.

Credentials (what `exchange` returns, what the calendar adapters take and `save`):
`{"access_token", "refresh_token", "expires_at": ISO 8601 UTC, "scope"}`. A refused code or
refresh token (any 4xx from the token endpoint: `invalid_grant`, `invalid_client`, ...) is
`CalendarAuthError`; 5xx, 429 and transport failures are `CalendarUnavailable`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from slotwise.domain.calendars import CalendarAuthError, CalendarUnavailable

GOOGLE_AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
# Events read/write, watch included; calendar list and free/busy need the read-only scope.
GOOGLE_SCOPES = ("https://www.googleapis.com/auth/calendar.events",
                 "https://www.googleapis.com/auth/calendar.readonly")
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
MICROSOFT_SCOPES = ("offline_access", "Calendars.ReadWrite")

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class GoogleOAuth:
    kind = "google"

    def __init__(self, client_id: str, client_secret: str, *, auth_url: str = GOOGLE_AUTH_URL,
                 token_url: str = GOOGLE_TOKEN_URI, client: httpx.Client | None = None,
                 timeout_s: float = 10.0, now: Clock = _utc_now) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._auth_url = auth_url
        self._token = TokenEndpoint(token_url, client=client, timeout_s=timeout_s, now=now)

    def authorize_url(self, state: str, redirect_uri: str) -> str:
        return self._auth_url + "?" + urlencode({
            "client_id": self._client_id, "redirect_uri": redirect_uri,
            "response_type": "code", "scope": " ".join(GOOGLE_SCOPES),
            "access_type": "offline", "prompt": "consent", "include_granted_scopes": "true",
            "state": state})

    def exchange(self, code: str, redirect_uri: str) -> dict[str, Any]:
        return self._token.request({
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": self._client_id, "client_secret": self._client_secret})


class MicrosoftOAuth:
    kind = "microsoft"

    def __init__(self, client_id: str, client_secret: str, *, tenant: str = "common",
                 authority: str = MICROSOFT_AUTHORITY, client: httpx.Client | None = None,
                 timeout_s: float = 10.0, now: Clock = _utc_now) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        base = f"{authority.rstrip('/')}/{tenant}/oauth2/v2.0"
        self._auth_url = f"{base}/authorize"
        self._token = TokenEndpoint(f"{base}/token", client=client, timeout_s=timeout_s,
                                    now=now)

    def authorize_url(self, state: str, redirect_uri: str) -> str:
        return self._auth_url + "?" + urlencode({
            "client_id": self._client_id, "redirect_uri": redirect_uri,
            "response_type": "code", "response_mode": "query",
            "scope": " ".join(MICROSOFT_SCOPES), "prompt": "select_account", "state": state})

    def exchange(self, code: str, redirect_uri: str) -> dict[str, Any]:
        return self._token.request({
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": self._client_id, "client_secret": self._client_secret,
            "scope": " ".join(MICROSOFT_SCOPES)})


class TokenEndpoint:
    """POSTs a form to an OAuth 2 token endpoint and returns the credentials dict. A refresh
    answer without a new refresh token keeps the one in `keep_refresh_token`."""

    def __init__(self, url: str, *, client: httpx.Client | None = None, timeout_s: float = 10.0,
                 now: Clock = _utc_now) -> None:
        self.url = url
        self._client = client if client is not None else httpx.Client()
        self._timeout = httpx.Timeout(timeout_s)
        self._now = now

    def request(self, form: Mapping[str, str], keep_refresh_token: str | None = None
                ) -> dict[str, Any]:
        grant = form.get("grant_type", "?")
        try:
            response = self._client.post(self.url, data=dict(form), timeout=self._timeout,
                                         headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            raise CalendarUnavailable(f"token endpoint ({grant}): {exc!r}") from exc
        answer = _json_object(response)
        if response.status_code >= 500 or response.status_code == 429:
            raise CalendarUnavailable(f"token endpoint ({grant}): {response.status_code}")
        if response.status_code != 200:
            raise CalendarAuthError(f"token endpoint refused the {grant}: "
                                    f"{answer.get('error', response.status_code)} "
                                    f"{answer.get('error_description', '')}".strip())
        access_token = answer.get("access_token")
        refresh_token = answer.get("refresh_token") or keep_refresh_token
        if not isinstance(access_token, str) or not access_token:
            raise CalendarAuthError(f"token endpoint ({grant}): no access token in the answer")
        if not isinstance(refresh_token, str) or not refresh_token:
            # Without it the connection dies with the access token, within the hour.
            raise CalendarAuthError(f"token endpoint ({grant}): no refresh token (offline "
                                    "access not granted)")
        try:
            expires_in_s = int(answer.get("expires_in", 3600))
        except (TypeError, ValueError):
            expires_in_s = 3600
        credentials: dict[str, Any] = {
            "access_token": access_token, "refresh_token": refresh_token,
            "expires_at": (self._now() + timedelta(seconds=expires_in_s)).astimezone(
                UTC).isoformat()}
        if isinstance(answer.get("scope"), str):
            credentials["scope"] = answer["scope"]
        return credentials


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
