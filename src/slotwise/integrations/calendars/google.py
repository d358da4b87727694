"""Google Calendar (API v3) through google-api-python-client, as a `CalendarProvider` and a
`PushCalendar`.

    GoogleCalendar(credentials, client_id, client_secret, save, *,
                   token_uri=GOOGLE_TOKEN_URI, http=None, timeout_s=10.0)

`credentials` is what `GoogleOAuth.exchange` returns: `{"access_token", "refresh_token",
"expires_at"}` (ISO 8601 UTC; a missing or past expiry makes the first call refresh).
google-auth refreshes the access token when it has expired or a call answers 401 (once); after
any call that refreshed, `save` gets the whole dict again with the new `access_token` and
`expires_at` (and `refresh_token`, should Google rotate it). `http` is the httplib2-shaped
transport under the credentials (tests pass `googleapiclient.http.HttpMockSequence`; token
refreshes go through it too); the discovery document is the bundled one, so building the
client makes no request.

Sync. `changes` lists `singleEvents=True` (recurring events expanded to instances): the window
`timeMin/timeMax` when the token is None, else `syncToken`, following `nextPageToken` until
the last page's `nextSyncToken` (the returned token). 410 (`fullSyncRequired`) is
`SyncTokenExpired`. Keys: the `iCalUID` for a single event, `iCalUID#<originalStartTime>` for
an instance (`YYYY-MM-DDTHH:MM:SSZ` in UTC; `YYYY-MM-DD` for an all-day one). Cancelled items
go to `removed`; Google guarantees only their `id`, so one lacking `iCalUID` is looked up once
per series with `events.get` (deleted events stay readable for a while); one that cannot be
found any more is left to the next full sync. Transparent events and events the account's own
attendee declined are not busy; all-day events span their dates in the calendar's zone;
zero-length events are left out. Ours: the private extended property `slotwise_booking` or an
exported UID.

Writes. `create_event` inserts with `iCalUID = event.uid` and the extended property; Google
answers 409 for a UID it already has (deleted ones included), which is then found by
`iCalUID` and patched back to life. `update_event` reads the event first because patching a
deleted Google event silently restores it: 404/410 or a cancelled event is `EventGone`.
`EventRef.external_id` is Google's event id, `etag` its etag.

Errors: 401 and a refresh refused (`invalid_grant`) are `CalendarAuthError`; 429, 5xx, 403
`rateLimitExceeded`/`userRateLimitExceeded` and transport failures are `CalendarUnavailable`;
other 4xx are `CalendarRejected`.

Push: `watch` calls `events.watch` (a `web_hook` channel with our `token`; Google needs a
public HTTPS address in production) and `stop` calls `channels.stop`. Google then POSTs
empty-bodied notifications whose headers `slotwise.api.calendar_push` reads; the first one
after `watch` has state `sync` and says nothing changed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httplib2
from google.auth.exceptions import RefreshError
from google.auth.exceptions import TransportError as GoogleTransportError
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

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

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
BOOKING_PROPERTY = "slotwise_booking"
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
PAGE_SIZE = 250
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Which domain error an HTTP status becomes for one call, where it differs from the default.
Overrides = Mapping[int, type[CalendarError]]


class GoogleCalendar:
    kind = "google"

    def __init__(self, credentials: Mapping[str, Any], client_id: str, client_secret: str,
                 save: Callable[[dict[str, Any]], None], *, token_uri: str = GOOGLE_TOKEN_URI,
                 http: Any = None, timeout_s: float = 10.0) -> None:
        if not credentials.get("refresh_token"):
            raise CalendarAuthError("Google credentials without a refresh token")
        self._stored = dict(credentials)
        self._save = save
        self._credentials = Credentials(  # type: ignore[no-untyped-call]
            token=credentials.get("access_token"), refresh_token=credentials["refresh_token"],
            token_uri=token_uri, client_id=client_id, client_secret=client_secret,
            expiry=_naive_utc(credentials.get("expires_at")))
        transport = http if http is not None else httplib2.Http(timeout=timeout_s)
        # One refresh per call: a 401 right after a refresh means the grant itself is bad.
        authorized = AuthorizedHttp(self._credentials, http=transport, max_refresh_attempts=1)
        self._service: Any = build("calendar", "v3", http=authorized, static_discovery=True,
                                   cache_discovery=False)

    def calendars(self) -> list[CalendarInfo]:
        found: list[CalendarInfo] = []
        page_token: str | None = None
        while True:
            page = self._execute(self._service.calendarList().list(
                pageToken=page_token, maxResults=PAGE_SIZE), "calendarList.list")
            found += [CalendarInfo(id=item["id"], name=item.get("summaryOverride")
                                   or item.get("summary") or item["id"],
                                   timezone=item.get("timeZone"),
                                   primary=bool(item.get("primary")),
                                   writable=item.get("accessRole") in ("owner", "writer"))
                      for item in page.get("items", [])]
            page_token = page.get("nextPageToken")
            if not page_token:
                return found

    def busy(self, calendar_id: str, start: datetime, end: datetime
             ) -> list[tuple[datetime, datetime]]:
        body = {"timeMin": _utc(start), "timeMax": _utc(end), "timeZone": "UTC",
                "items": [{"id": calendar_id}]}
        answer = self._execute(self._service.freebusy().query(body=body), "freebusy.query")
        entry = answer.get("calendars", {}).get(calendar_id)
        if entry is None or entry.get("errors"):
            raise CalendarRejected(f"freebusy.query: {calendar_id!r}: "
                                   f"{(entry or {}).get('errors', 'not in the answer')}")
        try:
            return sorted((_instant(period["start"]), _instant(period["end"]))
                          for period in entry.get("busy", []))
        except (KeyError, TypeError, ValueError) as exc:
            raise CalendarRejected(f"freebusy.query: malformed busy period ({exc!r})") from exc

    def changes(self, calendar_id: str, token: str | None, start: datetime, end: datetime
                ) -> ChangeSet:
        window = ({"timeMin": _utc(start), "timeMax": _utc(end)} if token is None
                  else {"syncToken": token})
        reader = _EventReader(lambda event_id: self._uid_of(calendar_id, event_id))
        page_token: str | None = None
        while True:
            page = self._execute(self._service.events().list(
                calendarId=calendar_id, singleEvents=True, maxResults=PAGE_SIZE,
                pageToken=page_token, **window), "events.list", {410: SyncTokenExpired})
            reader.read_page(page)
            page_token = page.get("nextPageToken")
            if not page_token:
                break
        next_token = page.get("nextSyncToken")
        if not next_token:
            raise CalendarRejected("events.list: the last page has no nextSyncToken")
        return ChangeSet(tuple(reader.events), tuple(dict.fromkeys(reader.removed)),
                         token=next_token, full=token is None)

    def create_event(self, calendar_id: str, event: OutgoingEvent) -> EventRef:
        body = {**_event_body(event), "iCalUID": event.uid}
        try:
            answer = self._execute(self._service.events().insert(
                calendarId=calendar_id, body=body, sendUpdates="none"), "events.insert")
        except CalendarRejected as exc:
            if exc.status != 409:
                raise
            existing = self._find_by_uid(calendar_id, event.uid)
            if existing is None:
                raise
            answer = self._patch(calendar_id, existing["id"], event)
        return _ref(answer)

    def update_event(self, calendar_id: str, ref: EventRef, event: OutgoingEvent) -> EventRef:
        current = self._execute(self._service.events().get(
            calendarId=calendar_id, eventId=ref.external_id), "events.get",
            {404: EventGone, 410: EventGone})
        if current.get("status") == "cancelled":
            raise EventGone(f"event {ref.external_id} was deleted at Google", 410)
        return _ref(self._patch(calendar_id, ref.external_id, event))

    def delete_event(self, calendar_id: str, ref: EventRef) -> None:
        try:
            self._execute(self._service.events().delete(
                calendarId=calendar_id, eventId=ref.external_id, sendUpdates="none"),
                "events.delete", {404: EventGone, 410: EventGone})
        except EventGone:
            return

    def watch(self, calendar_id: str, address: str, token: str, ttl: timedelta) -> PushChannel:
        body = {"id": str(uuid.uuid4()), "type": "web_hook", "address": address,
                "token": token, "params": {"ttl": str(int(ttl.total_seconds()))}}
        answer = self._execute(self._service.events().watch(calendarId=calendar_id, body=body),
                               "events.watch")
        try:
            expires_at = datetime.fromtimestamp(int(answer["expiration"]) / 1000, UTC)
            return PushChannel(id=answer["id"], token=token, expires_at=expires_at,
                               resource_id=answer["resourceId"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CalendarRejected(f"events.watch: malformed channel {answer!r:.200}") from exc

    def stop(self, channel: PushChannel) -> None:
        body = {"id": channel.id, "resourceId": channel.resource_id, "token": channel.token}
        try:
            self._execute(self._service.channels().stop(body=body), "channels.stop",
                          {404: EventGone})
        except EventGone:
            return  # expired or stopped already

    def _uid_of(self, calendar_id: str, event_id: str) -> str | None:
        """The iCalUID of an event, deleted ones included; None when Google forgot it."""
        try:
            found = self._execute(self._service.events().get(
                calendarId=calendar_id, eventId=event_id), "events.get",
                {404: EventGone, 410: EventGone})
        except EventGone:
            return None
        uid = found.get("iCalUID")
        return uid if isinstance(uid, str) and uid else None

    def _find_by_uid(self, calendar_id: str, uid: str) -> dict[str, Any] | None:
        page = self._execute(self._service.events().list(
            calendarId=calendar_id, iCalUID=uid, showDeleted=True), "events.list(iCalUID)")
        items = page.get("items", [])
        return items[0] if items else None

    def _patch(self, calendar_id: str, event_id: str, event: OutgoingEvent) -> dict[str, Any]:
        return self._execute(self._service.events().patch(
            calendarId=calendar_id, eventId=event_id, body=_event_body(event),
            sendUpdates="none"), "events.patch", {404: EventGone, 410: EventGone})

    def _execute(self, request: Any, what: str, overrides: Overrides | None = None
                 ) -> dict[str, Any]:
        token_before = self._credentials.token
        try:
            answer = request.execute()
        except HttpError as exc:
            raise _translate(exc, what, overrides or {}) from exc
        except RefreshError as exc:
            if exc.retryable:
                raise CalendarUnavailable(f"{what}: token refresh failed ({exc})") from exc
            raise CalendarAuthError(f"{what}: token refresh refused ({exc})") from exc
        except (GoogleTransportError, httplib2.HttpLib2Error, OSError) as exc:
            raise CalendarUnavailable(f"{what}: {exc!r}") from exc
        finally:
            if self._credentials.token != token_before:
                self._save_refreshed()
        return answer if isinstance(answer, dict) else {}

    def _save_refreshed(self) -> None:
        expiry = self._credentials.expiry
        self._stored.update(
            access_token=self._credentials.token,
            refresh_token=self._credentials.refresh_token or self._stored["refresh_token"],
            expires_at=expiry.replace(tzinfo=UTC).isoformat() if expiry else None)
        self._save(dict(self._stored))


class _EventReader:
    """Turns `events.list` pages into events and removed keys, learning the calendar's zone
    from each page (all-day events need it). `uid_of` finds a cancelled item's iCalUID."""

    def __init__(self, uid_of: Callable[[str], str | None]) -> None:
        self._uid_of_event = uid_of
        self._zone: ZoneInfo | None = None
        self._uids: dict[str, str | None] = {}  # event id → iCalUID, for cancelled items
        self.events: list[ExternalEvent] = []
        self.removed: list[str] = []

    def read_page(self, page: Mapping[str, Any]) -> None:
        self._zone = _zone(page.get("timeZone")) or self._zone
        for item in page.get("items", []):
            try:
                if item.get("status") == "cancelled":
                    key = self._cancelled_key(item)
                    if key is not None:
                        self.removed.append(key)
                else:
                    event = self._event(item)
                    if event is not None:
                        self.events.append(event)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise CalendarRejected(f"events.list: malformed event {item!r:.200}") from exc

    def _event(self, item: Mapping[str, Any]) -> ExternalEvent | None:
        uid = item["iCalUID"]
        start, all_day = self._when(item["start"])
        end, _ = self._when(item["end"])
        if end <= start:
            return None  # zero-length: blocks nothing
        declined = any(attendee.get("self") and attendee.get("responseStatus") == "declined"
                       for attendee in item.get("attendees", []))
        private = item.get("extendedProperties", {}).get("private", {})
        return ExternalEvent(
            key=_key(uid, item.get("originalStartTime")), uid=uid, start=start, end=end,
            title=item.get("summary"), all_day=all_day,
            busy=item.get("transparency") != "transparent" and not declined,
            ours=private.get(BOOKING_PROPERTY) or booking_of_uid(uid))

    def _cancelled_key(self, item: Mapping[str, Any]) -> str | None:
        uid = item.get("iCalUID") or self._uid_of(item.get("recurringEventId") or item["id"])
        return None if uid is None else _key(uid, item.get("originalStartTime"))

    def _uid_of(self, event_id: str) -> str | None:
        if event_id not in self._uids:  # once per series, not once per instance
            self._uids[event_id] = self._uid_of_event(event_id)
        return self._uids[event_id]

    def _when(self, value: Mapping[str, Any]) -> tuple[datetime, bool]:
        if "dateTime" in value:
            return _instant(value["dateTime"]), False
        day = date.fromisoformat(value["date"])
        return datetime.combine(day, time(0), self._zone or UTC).astimezone(UTC), True


def _translate(exc: HttpError, what: str, overrides: Overrides) -> CalendarError:
    status = int(exc.resp.status)
    reason = _reason(exc)
    detail = f"{what}: {status} {reason or exc.reason}"
    if status in overrides:
        error = overrides[status]
        return error(detail, status) if issubclass(error, CalendarRejected) else error(detail)
    if status == 401:
        return CalendarAuthError(detail)
    if status == 429 or status >= 500 or (status == 403 and reason in RATE_LIMIT_REASONS):
        retry_after = exc.resp.get("retry-after")
        return CalendarUnavailable(
            detail, float(retry_after) if retry_after and retry_after.isdigit() else None)
    return CalendarRejected(detail, status)


def _reason(exc: HttpError) -> str | None:
    """Google's `error.errors[0].reason` (`fullSyncRequired`, `rateLimitExceeded`, ...)."""
    try:
        body = json.loads(exc.content)
        return str(body["error"]["errors"][0]["reason"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _event_body(event: OutgoingEvent) -> dict[str, Any]:
    return {
        "summary": event.title,
        "description": event.description,
        "location": event.location,
        "start": {"dateTime": _utc(event.start), "timeZone": event.timezone},
        "end": {"dateTime": _utc(event.end), "timeZone": event.timezone},
        "status": "tentative" if event.tentative else "confirmed",
        "transparency": "opaque",
        "extendedProperties": {"private": {BOOKING_PROPERTY: event.booking_id}},
    }


def _ref(answer: Mapping[str, Any]) -> EventRef:
    if not answer.get("id"):
        raise CalendarRejected(f"answer has no event id: {answer!r:.200}")
    return EventRef(external_id=answer["id"], etag=answer.get("etag"))


def _key(uid: str, original_start: Mapping[str, Any] | None) -> str:
    if not original_start:
        return uid
    if "dateTime" in original_start:
        return f"{uid}#{_utc(_instant(original_start['dateTime']))}"
    return f"{uid}#{date.fromisoformat(original_start['date']).isoformat()}"


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"a time without an offset: {value!r}")
    return parsed.astimezone(UTC)


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime(UTC_FORMAT)


def _zone(name: Any) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if isinstance(name, str) and name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _naive_utc(value: Any) -> datetime | None:
    """google-auth compares expiries as naive UTC."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
