"""Microsoft 365 / Outlook calendars through thin httpx calls to Microsoft Graph, as a
`CalendarProvider` and a `PushCalendar`.

    MicrosoftCalendar(credentials, client_id, client_secret, save, *, tenant="common",
                      graph_url=GRAPH_URL, token_url=None, timezone=None, client=None,
                      timeout_s=10.0, now=...)

`credentials` as `MicrosoftOAuth.exchange` returns them (`access_token`, `refresh_token`,
`expires_at` ISO 8601 UTC). The access token is refreshed at the token URL (default
`https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`) when it expires within a
minute, or once when a call answers 401; `save` then gets the new credentials (Microsoft
rotates the refresh token). `invalid_grant` is `CalendarAuthError`. `timezone` is the
calendar's IANA zone, in which all-day events span their dates (UTC when None).

Sync. `changes` reads `/me/calendars/{id}/calendarView/delta` over the window (occurrences
of series come expanded), following `@odata.nextLink` to the `@odata.deltaLink`, which is the
token: the next call GETs it as it is (a token not under `graph_url` is refused as expired
rather than sent our bearer token). 410 or `SyncStateNotFound`/`SyncStateInvalid` is
`SyncTokenExpired`. Every request asks for UTC times and immutable ids.

Keys are Graph's event ids, not `iCalUId`s: Graph reports a deletion as `{"id", "@removed"}`
and nothing else, and every occurrence of a series has its own id, so the id is the only key a
removal can name. `uid` is the `iCalUId`. Removed and cancelled (`isCancelled`) items go to
`removed`; `showAs` free or workingElsewhere, and `responseStatus.response` declined, are not
busy (tentative is). Ours: the single-value extended property `BOOKING_PROPERTY` when Graph
includes it, else the `transactionId` we create with (delta cannot `$expand` extended
properties, the transaction id comes with the event), else an exported `iCalUId`.

Writes. `create_event` first looks for an event carrying the booking's extended property (a
reconnect, a retry after a lost answer) and patches it; else it POSTs with `transactionId =
event.uid`, which Graph uses to drop a duplicate POST. Updates and deletes go through the
calendar (`/me/calendars/{id}/events/{event}`), so an event moved to Deleted Items is gone:
404 on update is `EventGone`, on delete success. `EventRef.external_id` is the event id.

Push. `watch` POSTs a subscription (created, updated, deleted on the calendar's events;
`clientState` = token; expiry at most `MAX_SUBSCRIPTION`, Graph's limit for Outlook events
being about three days) and `stop` deletes it. Graph validates a new subscription before
answering: it POSTs to `notificationUrl?validationToken=...`, and the endpoint must answer 200
with the token, URL-decoded, as `text/plain` within 10 seconds (the webhook route does that).
Notifications are then JSON POSTs (read by `slotwise.api.calendar_push`); `clientState` is
checked against the subscription's token.

Errors: 401 after a refresh is `CalendarAuthError`; 429, 5xx and transport failures are
`CalendarUnavailable` (with `Retry-After`); other 4xx and malformed answers `CalendarRejected`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from slotwise.domain.calendars import (
    CalendarAuthError,
    CalendarError,
    CalendarInfo,
    CalendarRejected,
    CalendarUnavailable,
    ChangeSet,
    EventGone,
    EventRef,
    ExternalEvent,
    OutgoingEvent,
    PushChannel,
    SyncTokenExpired,
    booking_of_uid,
)
from slotwise.integrations.calendars.oauth import (
    MICROSOFT_AUTHORITY,
    MICROSOFT_SCOPES,
    TokenEndpoint,
)
from slotwise.integrations.meetings.http import retry_after_s

GRAPH_URL = "https://graph.microsoft.com/v1.0"
# Our booking id on exported events; the GUID is ours, fixed forever (changing it would
# orphan every event already exported).
BOOKING_PROPERTY = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name slotwise_booking"
MAX_SUBSCRIPTION = timedelta(minutes=4230)
TOKEN_MARGIN = timedelta(minutes=1)
NOT_BUSY_SHOW_AS = frozenset({"free", "workingElsewhere"})
EXPIRED_SYNC_CODES = frozenset({"SyncStateNotFound", "SyncStateInvalid", "resyncRequired"})
PAGE_SIZE = 100
PREFER = f'odata.maxpagesize={PAGE_SIZE}, outlook.timezone="UTC", IdType="ImmutableId"'

Clock = Callable[[], datetime]
Overrides = Mapping[int, type[CalendarError]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MicrosoftCalendar:
    kind = "microsoft"

    def __init__(self, credentials: Mapping[str, Any], client_id: str, client_secret: str,
                 save: Callable[[dict[str, Any]], None], *, tenant: str = "common",
                 graph_url: str = GRAPH_URL, token_url: str | None = None,
                 timezone: str | None = None, client: httpx.Client | None = None,
                 timeout_s: float = 10.0, now: Clock = _utc_now) -> None:
        if not credentials.get("refresh_token"):
            raise CalendarAuthError("Microsoft credentials without a refresh token")
        self._credentials = dict(credentials)
        self._client_id = client_id
        self._client_secret = client_secret
        self._save = save
        self._graph = graph_url.rstrip("/")
        self._zone = ZoneInfo(timezone) if timezone else UTC
        self._now = now
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(follow_redirects=False)
        self._timeout = httpx.Timeout(timeout_s)
        self._token = TokenEndpoint(
            token_url or f"{MICROSOFT_AUTHORITY}/{tenant}/oauth2/v2.0/token",
            client=self._client, timeout_s=timeout_s, now=now)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def calendars(self) -> list[CalendarInfo]:
        return [CalendarInfo(id=_id(item), name=item.get("name") or _id(item),
                             primary=bool(item.get("isDefaultCalendar")),
                             writable=bool(item.get("canEdit", True)))
                for item in self._pages(f"{self._graph}/me/calendars", "calendars")]

    def busy(self, calendar_id: str, start: datetime, end: datetime
             ) -> list[tuple[datetime, datetime]]:
        url = (f"{self._graph}/me/calendars/{_quote(calendar_id)}/calendarView?"
               f"startDateTime={_utc(start)}&endDateTime={_utc(end)}")
        events = [self._event(item) for item in self._pages(url, "calendarView")]
        return sorted((event.start, event.end) for event in events if event and event.busy)

    def changes(self, calendar_id: str, token: str | None, start: datetime, end: datetime
                ) -> ChangeSet:
        if token is None:
            url = (f"{self._graph}/me/calendars/{_quote(calendar_id)}/calendarView/delta?"
                   f"startDateTime={_utc(start)}&endDateTime={_utc(end)}")
        elif token.startswith(self._graph + "/"):
            url = token
        else:
            raise SyncTokenExpired("the delta link is not under this Graph URL")
        events: list[ExternalEvent] = []
        removed: list[str] = []
        while True:
            page = self._json(self._send("GET", url, what="calendarView/delta",
                                         overrides={410: SyncTokenExpired}))
            for item in _items(page):
                if "@removed" in item or item.get("isCancelled"):
                    removed.append(_id(item))
                elif (event := self._event(item)) is not None:
                    events.append(event)
            if page.get("@odata.nextLink"):
                url = page["@odata.nextLink"]
            elif page.get("@odata.deltaLink"):
                return ChangeSet(tuple(events), tuple(dict.fromkeys(removed)),
                                 token=page["@odata.deltaLink"], full=token is None)
            else:
                raise CalendarRejected("calendarView/delta: a page with neither link")

    def create_event(self, calendar_id: str, event: OutgoingEvent) -> EventRef:
        events_url = f"{self._graph}/me/calendars/{_quote(calendar_id)}/events"
        found = self._json(self._send("GET", events_url, what="events (by booking)", params={
            "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{BOOKING_PROPERTY}' "
                       f"and ep/value eq '{_odata_string(event.booking_id)}')",
            "$select": "id"}))
        existing = _items(found)
        if existing:
            return self.update_event(calendar_id, EventRef(str(existing[0]["id"])), event)
        body = {**_event_body(event), "transactionId": event.uid,
                "singleValueExtendedProperties": [{"id": BOOKING_PROPERTY,
                                                   "value": event.booking_id}]}
        return _ref(self._json(self._send("POST", events_url, what="create event", json=body)))

    def update_event(self, calendar_id: str, ref: EventRef, event: OutgoingEvent) -> EventRef:
        response = self._send("PATCH", self._event_url(calendar_id, ref), what="update event",
                              json=_event_body(event), overrides={404: EventGone})
        return _ref(self._json(response))

    def delete_event(self, calendar_id: str, ref: EventRef) -> None:
        try:
            self._send("DELETE", self._event_url(calendar_id, ref), what="delete event",
                       overrides={404: EventGone})
        except EventGone:
            return

    def watch(self, calendar_id: str, address: str, token: str, ttl: timedelta) -> PushChannel:
        expires = self._now() + min(ttl, MAX_SUBSCRIPTION)
        body = {"changeType": "created,updated,deleted", "notificationUrl": address,
                "resource": f"/me/calendars/{calendar_id}/events",
                "expirationDateTime": expires.astimezone(UTC).isoformat().replace(
                    "+00:00", "Z"),
                "clientState": token}
        answer = self._json(self._send("POST", f"{self._graph}/subscriptions",
                                       what="subscribe", json=body))
        try:
            return PushChannel(id=str(answer["id"]), token=token,
                               expires_at=_instant(answer["expirationDateTime"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CalendarRejected(f"subscribe: malformed answer {answer!r:.200}") from exc

    def stop(self, channel: PushChannel) -> None:
        try:
            self._send("DELETE", f"{self._graph}/subscriptions/{_quote(channel.id)}",
                       what="unsubscribe", overrides={404: EventGone})
        except EventGone:
            return  # expired or deleted already

    def _event(self, item: Mapping[str, Any]) -> ExternalEvent | None:
        try:
            event_id = _id(item)
            uid = item.get("iCalUId") or event_id
            all_day = bool(item.get("isAllDay"))
            start, end = (self._day(item["start"]), self._day(item["end"])) if all_day else (
                _graph_time(item["start"]), _graph_time(item["end"]))
            if end <= start:
                return None  # zero-length: blocks nothing
            declined = (item.get("responseStatus") or {}).get("response") == "declined"
            return ExternalEvent(
                key=event_id, uid=uid, start=start, end=end, title=item.get("subject"),
                all_day=all_day, ours=_ours(item),
                busy=item.get("showAs") not in NOT_BUSY_SHOW_AS and not declined
                and not item.get("isCancelled"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CalendarRejected(f"malformed event {item!r:.200}") from exc

    def _day(self, value: Mapping[str, Any]) -> datetime:
        day = date.fromisoformat(str(value["dateTime"])[:10])
        return datetime.combine(day, time(0), self._zone).astimezone(UTC)

    def _event_url(self, calendar_id: str, ref: EventRef) -> str:
        return (f"{self._graph}/me/calendars/{_quote(calendar_id)}/events/"
                f"{_quote(ref.external_id)}")

    def _pages(self, url: str, what: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        while next_url:
            page = self._json(self._send("GET", next_url, what=what))
            items += _items(page)
            next_url = page.get("@odata.nextLink")
        return items

    def _send(self, method: str, url: str, *, what: str, json: Any = None,
              params: Mapping[str, str] | None = None, overrides: Overrides | None = None
              ) -> httpx.Response:
        refreshed = False
        if self._expires_soon():
            self._refresh()
            refreshed = True
        while True:
            try:
                response = self._client.request(
                    method, url, json=json, params=params, timeout=self._timeout,
                    headers={"Authorization": f"Bearer {self._credentials['access_token']}",
                             "Accept": "application/json", "Prefer": PREFER})
            except httpx.TransportError as exc:
                raise CalendarUnavailable(f"{what}: {exc!r}") from exc
            if response.status_code == 401 and not refreshed:
                # A token revoked or expired early: one refresh, one retry.
                self._refresh()
                refreshed = True
                continue
            _raise_for_status(response, what, overrides or {})
            return response

    def _expires_soon(self) -> bool:
        expires_at = self._credentials.get("expires_at")
        if not self._credentials.get("access_token") or not expires_at:
            return True
        return _instant(expires_at) - TOKEN_MARGIN <= self._now()

    def _refresh(self) -> None:
        refresh_token = self._credentials["refresh_token"]
        fresh = self._token.request({
            "grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": self._client_id, "client_secret": self._client_secret,
            "scope": " ".join(MICROSOFT_SCOPES)}, keep_refresh_token=refresh_token)
        self._credentials = {**self._credentials, **fresh}
        self._save(dict(self._credentials))

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError as exc:
            raise CalendarRejected(f"answer is not JSON: {response.text[:200]!r}",
                                   response.status_code) from exc
        if not isinstance(body, dict):
            raise CalendarRejected(f"answer is not an object: {body!r:.200}")
        return body


def _raise_for_status(response: httpx.Response, what: str, overrides: Overrides) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    code, message = _graph_error(response)
    detail = f"{what}: {status} {code} {message}".strip()
    if status in overrides:
        error = overrides[status]
        raise error(detail, status) if issubclass(error, CalendarRejected) else error(detail)
    if code in EXPIRED_SYNC_CODES:
        raise SyncTokenExpired(detail)
    if status == 401:
        raise CalendarAuthError(detail)
    if status == 429 or status >= 500:
        raise CalendarUnavailable(detail, retry_after_s(response.headers.get("Retry-After")))
    raise CalendarRejected(detail, status)


def _graph_error(response: httpx.Response) -> tuple[str, str]:
    """Graph's `{"error": {"code", "message"}}`, else the start of the body."""
    try:
        error = response.json()["error"]
        return str(error.get("code", "")), str(error.get("message", ""))[:200]
    except (ValueError, KeyError, TypeError, AttributeError):
        return "", response.text[:200]


def _items(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = page.get("value", [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise CalendarRejected(f"malformed page {page!r:.200}")
    return items


def _id(item: Mapping[str, Any]) -> str:
    value = item.get("id")
    if not isinstance(value, str) or not value:
        raise CalendarRejected(f"an item without an id: {item!r:.200}")
    return value


def _ours(item: Mapping[str, Any]) -> str | None:
    for prop in item.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == BOOKING_PROPERTY.lower() and prop.get("value"):
            return str(prop["value"])
    for uid in (item.get("transactionId"), item.get("iCalUId")):
        if isinstance(uid, str) and (booking := booking_of_uid(uid)):
            return booking
    return None


def _event_body(event: OutgoingEvent) -> dict[str, Any]:
    # Local wall time in the booking's zone, so the event shows in that zone in Outlook.
    zone = ZoneInfo(event.timezone)
    return {
        "subject": event.title,
        "body": {"contentType": "text", "content": event.description or ""},
        "start": {"dateTime": _local(event.start, zone), "timeZone": event.timezone},
        "end": {"dateTime": _local(event.end, zone), "timeZone": event.timezone},
        "location": {"displayName": event.location or ""},
        "showAs": "tentative" if event.tentative else "busy",
        "isReminderOn": False,
    }


def _ref(answer: Mapping[str, Any]) -> EventRef:
    if not answer.get("id"):
        raise CalendarRejected(f"answer has no event id: {answer!r:.200}")
    return EventRef(external_id=str(answer["id"]), etag=answer.get("@odata.etag"),
                    data={"change_key": answer["changeKey"]} if answer.get("changeKey") else {})


def _graph_time(value: Mapping[str, Any]) -> datetime:
    """A Graph `dateTimeTimeZone`: a wall time and the zone it is in (UTC as asked)."""
    wall = datetime.fromisoformat(str(value["dateTime"])).replace(tzinfo=None)
    name = value.get("timeZone") or "UTC"
    try:
        zone = ZoneInfo("UTC" if name in ("UTC", "tzone://Microsoft/Utc") else name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"not an IANA zone: {name!r}") from exc
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quote(value: str) -> str:
    return quote(value, safe="")


def _odata_string(value: str) -> str:
    return value.replace("'", "''")
