"""The OAuth clients: what the consent URLs ask for, and the code exchange against a local
token endpoint (the fake Graph's, a standard OAuth 2 one)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from slotwise.domain.calendars import CalendarAuthError, CalendarUnavailable
from slotwise.integrations.calendars.microsoft import MicrosoftCalendar
from slotwise.integrations.calendars.oauth import GoogleOAuth, MicrosoftOAuth
from slotwise.testing.fakes.graph import FakeGraphServer

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
REDIRECT = "https://book.example/calendars/callback"


@pytest.fixture
def graph() -> Iterator[FakeGraphServer]:
    with FakeGraphServer() as fake:
        yield fake


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_the_google_consent_url_asks_for_offline_calendar_access() -> None:
    url = GoogleOAuth("gid.apps.googleusercontent.com", "gsecret").authorize_url(
        "signed.state", REDIRECT)

    parts = urlsplit(url)
    query = query_of(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "accounts.google.com",
                                                        "/o/oauth2/v2/auth")
    assert query["client_id"] == "gid.apps.googleusercontent.com"
    assert query["redirect_uri"] == REDIRECT
    assert query["response_type"] == "code"
    assert (query["access_type"], query["prompt"]) == ("offline", "consent")
    assert set(query["scope"].split()) == {
        "https://www.googleapis.com/auth/calendar.events",
        "https://www.googleapis.com/auth/calendar.readonly"}
    assert query["state"] == "signed.state"


def test_the_microsoft_consent_url_asks_for_offline_read_write_access() -> None:
    url = MicrosoftOAuth("mid", "msecret", tenant="contoso.onmicrosoft.com").authorize_url(
        "signed.state", REDIRECT)

    parts = urlsplit(url)
    query = query_of(url)
    assert parts.netloc == "login.microsoftonline.com"
    assert parts.path == "/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
    assert set(query["scope"].split()) == {"offline_access", "Calendars.ReadWrite"}
    assert (query["client_id"], query["redirect_uri"], query["state"]) == (
        "mid", REDIRECT, "signed.state")
    assert query["response_type"] == "code"


def test_a_microsoft_code_is_exchanged_for_credentials_that_work(
        graph: FakeGraphServer) -> None:
    oauth = MicrosoftOAuth(graph.client_id, graph.client_secret, authority=graph.root_url,
                           now=lambda: NOW)
    graph.issue_code("M.C507_BAY.2.U.code", REDIRECT)

    credentials = oauth.exchange("M.C507_BAY.2.U.code", REDIRECT)

    assert credentials["access_token"] and credentials["refresh_token"]
    assert datetime.fromisoformat(credentials["expires_at"]) == datetime(
        2027, 3, 1, 12, 59, 59, tzinfo=UTC)
    [call] = graph.calls
    form = parse_qs(call.body.decode())
    assert form["grant_type"] == ["authorization_code"]
    assert form["redirect_uri"] == [REDIRECT]
    # The expiry above is the injected clock's; with the real one the token is still good.
    calendar = MicrosoftCalendar({**credentials, "expires_at": "2099-01-01T00:00:00+00:00"},
                                 graph.client_id, graph.client_secret, lambda _: None,
                                 graph_url=graph.graph_url, token_url=graph.token_url)
    assert calendar.calendars()


def test_a_google_code_is_exchanged_at_the_configured_token_endpoint(
        graph: FakeGraphServer) -> None:
    oauth = GoogleOAuth(graph.client_id, graph.client_secret, token_url=graph.token_url,
                        now=lambda: NOW)
    graph.issue_code("4/0AeaYSHB-code", REDIRECT)

    credentials = oauth.exchange("4/0AeaYSHB-code", REDIRECT)

    assert set(credentials) >= {"access_token", "refresh_token", "expires_at"}
    assert parse_qs(graph.calls[0].body.decode())["code"] == ["4/0AeaYSHB-code"]


@pytest.mark.parametrize("code", ["never-issued", "used-once"])
def test_a_refused_code_is_an_auth_error(graph: FakeGraphServer, code: str) -> None:
    oauth = MicrosoftOAuth(graph.client_id, graph.client_secret, authority=graph.root_url)
    graph.issue_code("used-once", REDIRECT)
    oauth.exchange("used-once", REDIRECT)

    with pytest.raises(CalendarAuthError, match="invalid_grant"):
        oauth.exchange(code, REDIRECT)


def test_a_wrong_client_secret_is_an_auth_error(graph: FakeGraphServer) -> None:
    oauth = MicrosoftOAuth(graph.client_id, "wrong", authority=graph.root_url)
    graph.issue_code("code", REDIRECT)

    with pytest.raises(CalendarAuthError, match="invalid_client"):
        oauth.exchange("code", REDIRECT)


def test_a_failing_token_endpoint_is_unavailable(graph: FakeGraphServer) -> None:
    oauth = MicrosoftOAuth(graph.client_id, graph.client_secret, authority=graph.root_url)
    graph.fail_next(1, status=503)

    with pytest.raises(CalendarUnavailable):
        oauth.exchange("code", REDIRECT)


def test_an_answer_without_a_refresh_token_is_an_auth_error() -> None:
    # Google leaves the refresh token out when consent was not asked for again.
    def token_endpoint(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "ya29.a", "expires_in": 3599,
                                         "token_type": "Bearer"})

    oauth = GoogleOAuth("gid", "gsecret", token_url="https://oauth.test/token",
                        client=httpx.Client(transport=httpx.MockTransport(token_endpoint)))

    with pytest.raises(CalendarAuthError, match="refresh token"):
        oauth.exchange("code", REDIRECT)
