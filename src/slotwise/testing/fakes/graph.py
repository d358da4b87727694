"""A fake Microsoft Graph: the calendar endpoints `MicrosoftCalendar` uses and the Microsoft
identity platform's token endpoint, on 127.0.0.1 (ephemeral port, background thread), with
Graph's field names, error bodies and delta semantics, so the adapter is tested over sockets:

    with FakeGraphServer() as graph:
        calendar = MicrosoftCalendar(graph.issue_credentials(), graph.client_id,
                                     graph.client_secret, saved.append,
                                     graph_url=graph.graph_url, token_url=graph.token_url)
        event_id = graph.add_event(subject="Dentist", start=..., end=...)  # done in Outlook
        graph.change_event(event_id, subject="Moved", start=..., end=...)
        graph.remove_event(event_id)
        graph.refuse_refresh = True          # refresh grants answer invalid_grant
        graph.revoke_access_tokens()         # every access token issued so far answers 401
        graph.fail_next(2, status=503)       # the next two requests fail
        graph.issue_code("code", "https://app/cb")   # for an authorization-code grant
        graph.notify(subscription_id)        # POSTs a change notification, as Graph does

Delta: a delta link returns what changed in its window since it was issued: changed events in
full, deleted ones (and ones moved out of the window) as `{"id", "@removed"}`; pages hold
at most `odata.maxpagesize` (the `Prefer` header) and `page_size` items. Series are not
expanded: every event is a `singleInstance`. Times are answered in UTC whatever `Prefer` says.

A subscription is validated before it is created, as Graph does: the fake POSTs to
`notificationUrl?validationToken=...` and requires the token echoed as the body of a 200.
`graph_webhook.GraphWebhookEndpoint` plays the receiving route in tests; `graph_wire` holds
Graph's JSON shapes.
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from slotwise.testing.fakes.graph_wire import (
    Answer,
    Call,
    StoredEvent,
    decode_state,
    encode_state,
    error_body,
    graph_instant,
    instant,
    json_object,
    new_ical_uid,
    new_id,
    not_found,
    page_size,
    read_body,
    render_event,
    send_answer,
    wall_time,
)
from slotwise.testing.fakes.http import LocalServer

MAX_SUBSCRIPTION = timedelta(minutes=4230)
VALIDATION_TIMEOUT_S = 10.0
EXTENDED_FILTER = re.compile(
    r"singleValueExtendedProperties/Any\(ep: ep/id eq '([^']+)' and ep/value eq "
    r"'((?:[^']|'')*)'\)")
TOKEN_PATH = re.compile(r"^/[^/]+/oauth2/v2\.0/token$")
EVENT_PATH = re.compile(r"^/v1\.0/me/calendars/([^/]+)/events(?:/([^/]+))?$")
VIEW_PATH = re.compile(r"^/v1\.0/me/calendars/([^/]+)/calendarView(/delta)?$")


@dataclass(slots=True)
class Subscription:
    id: str
    resource: str
    notification_url: str
    client_state: str | None
    change_type: str
    expires_at: datetime


class FakeGraphServer:
    def __init__(self, *, client_id: str = "fake-client-id",
                 client_secret: str = "fake-client-secret", page_size: int = 10) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.page_size = page_size
        self.calendar_id = "AAMkADdefault-calendar"
        self.calendars: dict[str, str] = {self.calendar_id: "Calendar"}
        self.refuse_refresh = False
        self.events: dict[str, StoredEvent] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self._access_tokens: set[str] = set()
        self._refresh_tokens: set[str] = set()
        self._codes: dict[str, str] = {}
        self._calls: list[Call] = []
        self._canned: deque[Answer] = deque()
        self._seq = itertools.count(1)
        self._lock = threading.RLock()
        self._server: LocalServer | None = None

    @property
    def root_url(self) -> str:
        assert self._server is not None, "start the fake first (with FakeGraphServer() as ...)"
        return self._server.root_url

    @property
    def graph_url(self) -> str:
        return f"{self.root_url}/v1.0"

    @property
    def token_url(self) -> str:
        return f"{self.root_url}/common/oauth2/v2.0/token"

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def __enter__(self) -> Self:
        self._server = LocalServer(_handler_for(self), "fake-graph")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def issue_credentials(self, expires_in: timedelta = timedelta(hours=1)) -> dict[str, Any]:
        """Credentials as `MicrosoftOAuth.exchange` returns them, valid here."""
        with self._lock:
            tokens = self._issue()
        return {"access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "expires_at": (datetime.now(UTC) + expires_in).isoformat()}

    def issue_code(self, code: str, redirect_uri: str) -> None:
        with self._lock:
            self._codes[code] = redirect_uri

    def revoke_access_tokens(self) -> None:
        with self._lock:
            self._access_tokens.clear()

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        code = {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(status, "UnknownError")
        with self._lock:
            self._canned.extend([Answer(status, error_body(code, "Try again later."))] * n)

    def add_event(self, *, subject: str, start: datetime, end: datetime,
                  calendar_id: str | None = None, **fields: Any) -> str:
        """An event made in Outlook; `fields` are `StoredEvent`'s (`show_as`, `response`,
        `cancelled`, `all_day`, `ical_uid`, ...). Returns its id."""
        with self._lock:
            event = StoredEvent(
                id=new_id(), calendar_id=calendar_id or self.calendar_id,
                ical_uid=fields.pop("ical_uid", None) or new_ical_uid(), subject=subject,
                start=start, end=end, seq=next(self._seq), **fields)
            self.events[event.id] = event
            return event.id

    def change_event(self, event_id: str, **fields: Any) -> None:
        with self._lock:
            event = self.events[event_id]
            for name, value in fields.items():
                setattr(event, name, value)
            event.seq = next(self._seq)

    def remove_event(self, event_id: str) -> None:
        self.change_event(event_id, deleted=True)

    def notify(self, subscription_id: str, change_type: str = "updated",
               event_id: str | None = None) -> int:
        """POST one change notification to the subscription's URL; returns the status."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
        resource_id = event_id or new_id()
        body = {"value": [{
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": graph_instant(subscription.expires_at),
            "changeType": change_type,
            "resource": f"Users/fake-user/Events/{resource_id}",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Event",
                             "@odata.id": f"Users/fake-user/Events/{resource_id}",
                             "@odata.etag": 'W/"DwAAABYAAAA="', "id": resource_id},
            "clientState": subscription.client_state,
            "tenantId": "00000000-0000-0000-0000-000000000001"}]}
        return httpx.post(subscription.notification_url, json=body, timeout=10).status_code

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        """Answer one request (called on the server's threads)."""
        parts = urlsplit(target)
        parts = parts._replace(path=unquote(parts.path))  # ids arrive percent-encoded
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        with self._lock:
            self._calls.append(Call(method, target, headers, raw))
            if self._canned:
                return self._canned.popleft()
            if TOKEN_PATH.match(parts.path) and method == "POST":
                return self._token(raw)
            if headers.get("authorization", "").removeprefix("Bearer ") not in (
                    self._access_tokens):
                return Answer(401, error_body("InvalidAuthenticationToken",
                                               "Access token has expired or is not yet valid."))
        if parts.path == "/v1.0/subscriptions" and method == "POST":
            return self._subscribe(json_object(raw))  # the handshake is made without the lock
        with self._lock:
            return self._route(method, parts.path, query, headers, raw)

    def _route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               raw: bytes) -> Answer:
        if path == "/v1.0/me/calendars" and method == "GET":
            return Answer(200, {"value": [
                {"id": cid, "name": name, "color": "auto", "isDefaultCalendar":
                 cid == self.calendar_id, "canEdit": True, "canShare": True,
                 "owner": {"name": "Ana Müller", "address": "ana@example.com"}}
                for cid, name in self.calendars.items()]})
        if path.startswith("/v1.0/subscriptions/") and method == "DELETE":
            found = self.subscriptions.pop(path.rsplit("/", 1)[1], None)
            return Answer(204) if found else Answer(404, error_body(
                "ResourceNotFound", "The object was not found."))
        if (view := VIEW_PATH.match(path)) and method == "GET":
            if view.group(1) not in self.calendars:
                return not_found()
            if view.group(2):
                return self._delta(view.group(1), query, headers)
            start, end = instant(query["startDateTime"]), instant(query["endDateTime"])
            return Answer(200, {"value": [render_event(event) for event in self._live(view.group(1))
                                          if event.start < end and event.end > start]})
        if (match := EVENT_PATH.match(path)) and match.group(1) in self.calendars:
            calendar_id, event_id = match.groups()
            if event_id is None:
                return self._collection(method, calendar_id, query, raw)
            return self._one(method, calendar_id, event_id, raw)
        return not_found()

    def _collection(self, method: str, calendar_id: str, query: dict[str, str], raw: bytes
                    ) -> Answer:
        if method == "GET":
            events = self._live(calendar_id)
            if "$filter" in query:
                found = EXTENDED_FILTER.fullmatch(query["$filter"])
                if found is None:
                    return Answer(400, error_body("BadRequest", "Unsupported filter."))
                prop, value = found.group(1).lower(), found.group(2).replace("''", "'")
                events = [event for event in events if any(
                    key.lower() == prop and stored == value
                    for key, stored in event.extended.items())]
            return Answer(200, {"value": [render_event(event) for event in events]})
        if method != "POST":
            return Answer(405, error_body("MethodNotAllowed", "Method not allowed."))
        body = json_object(raw)
        transaction_id = body.get("transactionId")
        for event in self._live(calendar_id):
            if transaction_id and event.transaction_id == transaction_id:
                return Answer(201, render_event(event))  # a retried POST: the first event
        try:
            event = StoredEvent(id=new_id(), calendar_id=calendar_id, ical_uid=new_ical_uid(),
                                subject=body["subject"], start=wall_time(body["start"]),
                                end=wall_time(body["end"]), seq=next(self._seq),
                                transaction_id=transaction_id)
        except (KeyError, TypeError, ValueError):
            return Answer(400, error_body("ErrorInvalidRequest", "Invalid event."))
        self._apply(event, body)
        self.events[event.id] = event
        return Answer(201, render_event(event))

    def _one(self, method: str, calendar_id: str, event_id: str, raw: bytes) -> Answer:
        event = self.events.get(event_id)
        if event is None or event.deleted or event.calendar_id != calendar_id:
            return not_found()
        if method == "GET":
            return Answer(200, render_event(event))
        if method == "DELETE":
            event.deleted, event.seq = True, next(self._seq)
            return Answer(204)
        if method == "PATCH":
            body = json_object(raw)
            try:
                if "start" in body:
                    event.start = wall_time(body["start"])
                if "end" in body:
                    event.end = wall_time(body["end"])
            except (KeyError, TypeError, ValueError):
                return Answer(400, error_body("ErrorInvalidRequest", "Invalid time."))
            event.subject = body.get("subject", event.subject)
            self._apply(event, body)
            event.seq = next(self._seq)
            return Answer(200, render_event(event))
        return Answer(405, error_body("MethodNotAllowed", "Method not allowed."))

    def _apply(self, event: StoredEvent, body: dict[str, Any]) -> None:
        event.show_as = body.get("showAs", event.show_as)
        event.body = (body.get("body") or {}).get("content", event.body)
        event.location = (body.get("location") or {}).get("displayName", event.location)
        for prop in body.get("singleValueExtendedProperties") or []:
            event.extended[prop["id"]] = prop["value"]

    def _delta(self, calendar_id: str, query: dict[str, str], headers: dict[str, str]
               ) -> Answer:
        if "$skiptoken" in query or "$deltatoken" in query:
            try:
                state = decode_state(query.get("$skiptoken") or query["$deltatoken"])
            except ValueError:
                return Answer(410, error_body("SyncStateNotFound",
                                               "The sync state generation is not found."))
            if "$deltatoken" in query:  # a new round: what changed since the link was issued
                state = {**state, "offset": 0, "until": self._last_seq()}
        else:
            state = {"start": query["startDateTime"], "end": query["endDateTime"], "since": 0,
                     "until": self._last_seq(), "offset": 0}
        start, end = instant(state["start"]), instant(state["end"])
        items: list[dict[str, Any]] = []
        for event in sorted(self.events.values(), key=lambda event: event.seq):
            if event.calendar_id != calendar_id or not (
                    state["since"] < event.seq <= state["until"]):
                continue
            if not event.deleted and event.start < end and event.end > start:
                items.append(render_event(event, extended=False))
            elif state["since"]:  # a first sync has nothing to remove
                items.append({"@odata.type": "#microsoft.graph.event", "id": event.id,
                              "@removed": {"reason": "deleted"}})
        # maxpagesize is a preference: Graph may send fewer, and this fake's cap wins.
        size = min(page_size(headers.get("prefer", ""), self.page_size), self.page_size)
        offset = state["offset"]
        page: dict[str, Any] = {"value": items[offset:offset + size]}
        base = f"{self.graph_url}/me/calendars/{calendar_id}/calendarView/delta"
        if offset + size < len(items):
            skip = encode_state({**state, "offset": offset + size})
            page["@odata.nextLink"] = f"{base}?$skiptoken={skip}"
        else:
            delta = encode_state({**state, "since": state["until"]})
            page["@odata.deltaLink"] = f"{base}?$deltatoken={delta}"
        return Answer(200, page)

    def _subscribe(self, body: dict[str, Any]) -> Answer:
        try:
            expires_at = instant(body["expirationDateTime"])
            url, resource = body["notificationUrl"], body["resource"]
            change_type = body["changeType"]
        except (KeyError, TypeError, ValueError):
            return Answer(400, error_body("InvalidRequest", "Missing or invalid field."))
        if not datetime.now(UTC) < expires_at <= datetime.now(UTC) + MAX_SUBSCRIPTION:
            return Answer(400, error_body(
                "InvalidRequest", "Subscription expiration can only be 4230 minutes in the "
                                  "future."))
        validation_token = (f"Validation: Testing client application reachability for "
                            f"subscription Request-Id: {uuid.uuid4()}")
        try:
            answer = httpx.post(url, params={"validationToken": validation_token},
                                headers={"Content-Type": "text/plain; charset=utf-8"},
                                timeout=VALIDATION_TIMEOUT_S)
            valid = answer.status_code == 200 and answer.text == validation_token
        except httpx.HTTPError:
            valid = False
        if not valid:
            return Answer(400, error_body(
                "InvalidRequest", "Subscription validation request failed. Response must "
                                  "exactly match validationToken query parameter."))
        subscription = Subscription(str(uuid.uuid4()), resource, url, body.get("clientState"),
                                    change_type, expires_at)
        with self._lock:
            self.subscriptions[subscription.id] = subscription
        return Answer(201, {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
            "id": subscription.id, "resource": resource, "changeType": change_type,
            "clientState": subscription.client_state, "notificationUrl": url,
            "expirationDateTime": graph_instant(expires_at),
            "applicationId": self.client_id, "creatorId": "fake-user",
            "includeResourceData": False, "latestSupportedTlsVersion": "v1_2"})

    def _token(self, raw: bytes) -> Answer:
        form = {name: values[0] for name, values in parse_qs(raw.decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id,
                                                                  self.client_secret):
            return Answer(401, {"error": "invalid_client",
                                "error_description": "AADSTS7000215: Invalid client secret."})
        grant = form.get("grant_type")
        if grant == "refresh_token" and not self.refuse_refresh and form.get(
                "refresh_token") in self._refresh_tokens:
            return Answer(200, self._issue())
        if grant == "authorization_code" and self._codes.get(form.get("code", "")) == form.get(
                "redirect_uri"):
            del self._codes[form["code"]]  # a code is good once
            return Answer(200, self._issue())
        return Answer(400, {
            "error": "invalid_grant", "error_codes": [70000],
            "error_description": "AADSTS70000: The provided grant has expired due to it being "
                                 "revoked, a fresh auth token is needed."})

    def _issue(self) -> dict[str, Any]:
        access = "eyJ0eXAi." + secrets.token_urlsafe(24)
        refresh = "0.AX" + secrets.token_urlsafe(32)
        self._access_tokens.add(access)
        self._refresh_tokens.add(refresh)
        return {"token_type": "Bearer", "scope": "Calendars.ReadWrite User.Read",
                "expires_in": 3599, "ext_expires_in": 3599, "access_token": access,
                "refresh_token": refresh}

    def _live(self, calendar_id: str) -> list[StoredEvent]:
        return [event for event in self.events.values()
                if event.calendar_id == calendar_id and not event.deleted]

    def _last_seq(self) -> int:
        return max((event.seq for event in self.events.values()), default=0)


def _handler_for(fake: FakeGraphServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            raw = read_body(self)
            headers = {name.lower(): value for name, value in self.headers.items()}
            send_answer(self, fake.handle(self.command, self.path, headers, raw))

        # http.server dispatches on these names.
        do_GET = do_POST = do_PATCH = do_DELETE = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests read `fake.calls`, not stderr

    return Handler
