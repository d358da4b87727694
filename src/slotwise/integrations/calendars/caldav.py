"""`CalendarProvider` for a CalDAV server (RFC 4791), through the `caldav` library.

    CalDavCalendar(url, username, password, email=None, timeout_s=10.0,
                   default_zone=None, sync_tokens=True)

`url` is the server's CalDAV root or the account's principal URL; calendar ids are the
calendars' absolute collection URLs. `email` is the account's own address: events it has
declined are not busy. `default_zone` is the zone of all-day and floating times when a
calendar names none. `sync_tokens=False` always compares ETags, for servers whose
sync-collection REPORT is broken (it is chosen anyway when the server refuses the REPORT).

Reading. `changes(token=None)` asks for every object overlapping the window (a time-range
calendar-query; recurring series are expanded here, see `ics`) and returns a full ChangeSet.
Later calls are incremental: a sync-collection REPORT (RFC 6578) from the server's sync
token, or, without one, a depth-1 PROPFIND whose ETags are compared with the last ones. A
changed object's UID is reported in `removed` and its instances in the window in `events`; a
deleted object's UID in `removed`.

The token is JSON we own: `{"v": 1, "sync": <server sync token or null>, "objects":
{href: [uid or null, etag or null]}}`; `sync` null means ETag mode. The href → UID map is
how a deletion (which the server reports by href only) is turned into a UID. A token the server
refuses, or one that is not ours, raises `SyncTokenExpired`.

Writing. An exported event is one object named `<quoted uid>.ics` in the calendar, PUT whole:
creating it again overwrites it (or, when the UID already lives at another href, updates it
there). Updates carry `If-Match: *`, so an event deleted at the server is `EventGone` rather
than silently recreated. `EventRef.external_id` is the object's absolute URL.

Errors: connection failures, timeouts, 408, 429 and 5xx are `CalendarUnavailable`; 401/403
`CalendarAuthError`; a refused sync token `SyncTokenExpired`; other 4xx and unreadable
answers `CalendarRejected`.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from urllib.parse import quote, unquote, urljoin, urlsplit

import niquests
from caldav.collection import Calendar as DavCalendar
from caldav.davclient import DAVClient
from caldav.elements import dav
from caldav.lib import error as dav_error

from slotwise.domain.calendars import (
    CalendarAuthError,
    CalendarInfo,
    CalendarRejected,
    CalendarUnavailable,
    ChangeSet,
    EventGone,
    EventRef,
    ExternalEvent,
    OutgoingEvent,
    SyncTokenExpired,
)
from slotwise.engine.intervals import TimeRange, merge
from slotwise.integrations.calendars import ics

T = TypeVar("T")
TOKEN_VERSION = 1
VALID_SYNC_TOKEN = "{DAV:}valid-sync-token"
TRANSIENT_STATUSES = frozenset({408, 425, 429})
ICS_TYPE = "text/calendar; charset=utf-8"

# href → (uid, etag); either may be unknown (an object never read, a server without ETags).
Objects = dict[str, tuple[str | None, str | None]]


class CalDavCalendar:
    kind = "caldav"

    def __init__(self, url: str, username: str, password: str, email: str | None = None, *,
                 timeout_s: float = 10.0, default_zone: str | None = None,
                 sync_tokens: bool = True) -> None:
        self.url = url
        self.email = email
        self.default_zone = default_zone
        self.sync_tokens = sync_tokens
        # No RFC 6764 discovery: the URL is given, and discovery would ask DNS. The timeout
        # goes to niquests, which takes float seconds (caldav's hint says int).
        self._client = DAVClient(url=url, username=username, password=password,
                                 timeout=cast(int, timeout_s), enable_rfc6764=False)

    def close(self) -> None:
        self._client.close()

    def calendars(self) -> list[CalendarInfo]:
        with _translated("list calendars"):
            principal = cast(Any, self._client).principal()  # untyped in caldav
            found = _done(principal.calendars())
            infos = [CalendarInfo(id=str(c.url), name=c.get_display_name() or _last_segment(
                str(c.url))) for c in found]
        return [CalendarInfo(i.id, i.name, primary=n == 0) for n, i in enumerate(infos)]

    def busy(self, calendar_id: str, start: datetime, end: datetime
             ) -> list[tuple[datetime, datetime]]:
        events = [e for _href, _etag, found in self._search(calendar_id, start, end)
                  for e in found if e.busy]
        return [(r.start, r.end) for r in merge(TimeRange(e.start, e.end) for e in events)]

    def changes(self, calendar_id: str, token: str | None, start: datetime, end: datetime
                ) -> ChangeSet:
        if token is None:
            return self._full(calendar_id, start, end)
        sync, objects = _read_token(token)
        if sync is None:
            return self._by_etags(calendar_id, objects, start, end)
        return self._by_sync_token(calendar_id, sync, objects, start, end)

    def create_event(self, calendar_id: str, event: OutgoingEvent) -> EventRef:
        href = urljoin(_collection(calendar_id), quote(event.uid, safe="") + ".ics")
        body = self._render(event)
        with _translated(f"create {event.uid}"):
            response = self._client.put(href, body, {"Content-Type": ICS_TYPE})
            if response.status == 409:
                # The UID already lives under another name (made by another client, or by us
                # before a rename): update that object rather than fail or duplicate it.
                existing = _done(self._calendar(calendar_id).get_event_by_uid(event.uid))
                href = str(existing.url)
                response = self._client.put(href, body, {"Content-Type": ICS_TYPE})
        _check(response.status, f"PUT {href}", response.raw)
        return EventRef(href, _etag(response.headers), {"uid": event.uid})

    def update_event(self, calendar_id: str, ref: EventRef, event: OutgoingEvent) -> EventRef:
        with _translated(f"update {ref.external_id}"):
            response = self._client.put(ref.external_id, self._render(event),
                                        {"Content-Type": ICS_TYPE, "If-Match": "*"})
        if response.status in (404, 410, 412):
            raise EventGone(f"PUT {ref.external_id}: {response.status}: the event is gone",
                            response.status)
        _check(response.status, f"PUT {ref.external_id}", response.raw)
        return EventRef(ref.external_id, _etag(response.headers), {"uid": event.uid})

    def delete_event(self, calendar_id: str, ref: EventRef) -> None:
        with _translated(f"delete {ref.external_id}"):
            response = self._client.delete(ref.external_id)
        if response.status not in (404, 410):
            _check(response.status, f"DELETE {ref.external_id}", response.raw)

    def _full(self, calendar_id: str, start: datetime, end: datetime) -> ChangeSet:
        # The token is taken before the search: a change made in between is reported again
        # by the next incremental call, never lost.
        sync, objects = self._baseline(calendar_id)
        events: list[ExternalEvent] = []
        for href, etag, found in self._search(calendar_id, start, end):
            uids = {e.uid for e in found}
            objects[href] = (next(iter(uids)) if len(uids) == 1 else None, etag)
            events += found
        return ChangeSet(tuple(events), token=_write_token(sync, objects), full=True)

    def _baseline(self, calendar_id: str) -> tuple[str | None, Objects]:
        """The server's current sync token (None without one) and every object's href."""
        calendar = self._calendar(calendar_id)
        if self.sync_tokens:
            try:
                with _translated("initial sync"):
                    result = _done(calendar.get_objects_by_sync_token(
                        None, load_objects=False, disable_fallback=True))
                objects: Objects = {_key(o.url): (None, _prop_etag(o)) for o in result}
                return str(result.sync_token), objects
            except CalendarRejected:
                pass  # no sync-collection REPORT here: ETags it is
        return None, {href: (None, etag) for href, etag in self._etags(calendar_id).items()}

    def _by_sync_token(self, calendar_id: str, sync: str, known: Objects, start: datetime,
                       end: datetime) -> ChangeSet:
        calendar = self._calendar(calendar_id)
        with _translated("sync"):
            result = _done(calendar.get_objects_by_sync_token(sync, load_objects=True,
                                                              disable_fallback=True))
        deleted = {_key(url) for url in result.deleted_urls}
        changed = {_key(o.url): o for o in result if _key(o.url) not in deleted}
        objects = dict(known)
        removed, events = self._apply(objects, deleted, changed, start, end)
        return ChangeSet(tuple(events), tuple(sorted(removed)),
                         token=_write_token(str(result.sync_token), objects))

    def _by_etags(self, calendar_id: str, known: Objects, start: datetime, end: datetime
                  ) -> ChangeSet:
        current = self._etags(calendar_id)
        deleted = set(known) - {_key(url) for url in current}
        calendar = self._calendar(calendar_id)
        changed = {_key(url): calendar.event_by_url(url) for url, etag in current.items()
                   if _key(url) not in known or known[_key(url)][1] != etag or etag is None}
        with _translated("load changed objects"):
            for obj in changed.values():
                try:
                    obj.load()
                except dav_error.NotFoundError:
                    obj.data = None  # deleted since the PROPFIND: handled as deleted below
        objects = dict(known)
        removed, events = self._apply(objects, deleted, changed, start, end)
        return ChangeSet(tuple(events), tuple(sorted(removed)), token=_write_token(None, objects))

    def _apply(self, objects: Objects, deleted: set[str], changed: dict[str, Any],
               start: datetime, end: datetime) -> tuple[set[str], list[ExternalEvent]]:
        """Update `objects` (href → uid, etag) with the deleted and changed objects; the UIDs
        to remove and the instances to upsert."""
        removed: set[str] = set()
        events: list[ExternalEvent] = []
        for href in deleted:
            uid, _etag = objects.pop(href, (None, None))
            if uid:
                removed.add(uid)
        for href, obj in changed.items():
            old_uid = objects.get(href, (None, None))[0]
            if old_uid:
                removed.add(old_uid)
            if not obj.data:
                objects.pop(href, None)
                continue
            parsed = ics.load(obj.data)
            uids = ics.uids_of(parsed)
            removed |= uids
            events += ics.events_in(parsed, start, end, default_zone=self.default_zone,
                                    own_email=self.email)
            objects[href] = (next(iter(uids)) if len(uids) == 1 else None, _prop_etag(obj))
        return removed, events

    def _search(self, calendar_id: str, start: datetime, end: datetime
                ) -> list[tuple[str, str | None, list[ExternalEvent]]]:
        """(href key, etag, instances in the window) of every object the server finds there."""
        calendar = self._calendar(calendar_id)
        with _translated("search"):
            found: list[Any] = _done(calendar.search(event=True, start=start, end=end))
        return [(_key(obj.url), _prop_etag(obj),
                 ics.parse_events(obj.data, start, end, default_zone=self.default_zone,
                                  own_email=self.email)) for obj in found if obj.data]

    def _etags(self, calendar_id: str) -> dict[str, str | None]:
        calendar = self._calendar(calendar_id)
        with _translated("list ETags"):
            # caldav's own sync fallback does this PROPFIND; it has no public call for it.
            response = _done(calendar._query_properties([dav.GetEtag()], depth=1))
            props = response.expand_simple_props([dav.GetEtag()])
        base = _collection(calendar_id)
        etags: dict[str, str | None] = {}
        for href, values in props.items():
            url = urljoin(base, href)
            if url.rstrip("/") != base.rstrip("/"):  # the collection itself is listed too
                etag = values.get(dav.GetEtag.tag)
                etags[url] = str(etag) if etag else None
        return etags

    def _calendar(self, calendar_id: str) -> DavCalendar:
        return DavCalendar(client=self._client, url=_collection(calendar_id))

    def _render(self, event: OutgoingEvent) -> str:
        body = ics.render_events([event], name=event.title, dtstamp=datetime.now(UTC))
        return body.decode()


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """caldav's and niquests' failures as the port's errors, the cause kept."""
    try:
        yield
    except dav_error.RateLimitError as exc:
        raise CalendarUnavailable(f"{what}: rate limited ({exc})",
                                  getattr(exc, "retry_after_seconds", None)) from exc
    except dav_error.DAVError as exc:
        status = exc.status
        if VALID_SYNC_TOKEN in exc.preconditions:
            raise SyncTokenExpired(f"{what}: the server refused the sync token") from exc
        if status in (401, 403):
            raise CalendarAuthError(f"{what}: {status} {exc.reason}") from exc
        if status is not None and (status >= 500 or status in TRANSIENT_STATUSES):
            raise CalendarUnavailable(f"{what}: {status} {exc.reason}") from exc
        raise CalendarRejected(f"{what}: {exc}", status) from exc
    except (niquests.exceptions.RequestException, OSError) as exc:
        raise CalendarUnavailable(f"{what}: {exc!r}") from exc
    except ValueError as exc:  # unreadable XML or iCalendar in an answer
        raise CalendarRejected(f"{what}: unreadable answer: {exc}") from exc


def _done(value: T | Coroutine[Any, Any, T]) -> T:
    """caldav's calls are typed for its async client too; this client is synchronous."""
    assert not isinstance(value, Coroutine), "an async caldav client"
    return value


def _check(status: int, what: str, body: Any) -> None:
    if 200 <= status < 300:
        return
    if status >= 500 or status in TRANSIENT_STATUSES:
        raise CalendarUnavailable(f"{what}: {status}")
    if status in (401, 403):
        raise CalendarAuthError(f"{what}: {status}")
    raise CalendarRejected(f"{what}: {status} {str(body)[:200]}", status)


def _read_token(token: str) -> tuple[str | None, Objects]:
    try:
        data = json.loads(token)
        if not isinstance(data, dict) or data.get("v") != TOKEN_VERSION:
            raise ValueError("not a token of this version")
        sync = data["sync"]
        objects = {str(href): (entry[0], entry[1]) for href, entry in data["objects"].items()}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise SyncTokenExpired(f"not a CalDAV sync token of ours: {token[:80]!r}") from exc
    if sync is not None and not isinstance(sync, str):
        raise SyncTokenExpired("the token's server sync token is not a string")
    return sync, objects


def _write_token(sync: str | None, objects: Objects) -> str:
    return json.dumps({"v": TOKEN_VERSION, "sync": sync,
                       "objects": {href: list(entry) for href, entry in sorted(objects.items())}},
                      separators=(",", ":"))


def _prop_etag(obj: Any) -> str | None:
    etag = getattr(obj, "props", {}).get(dav.GetEtag.tag)
    return str(etag) if etag else None


def _etag(headers: Any) -> str | None:
    etag = headers.get("ETag") if headers is not None else None
    return str(etag) if etag else None


def _key(url: Any) -> str:
    """An object's href as the token keeps it: its path, unquoted (servers and the library
    quote `@` and friends differently from one answer to the next)."""
    return unquote(urlsplit(str(url)).path)


def _collection(calendar_id: str) -> str:
    return calendar_id if calendar_id.endswith("/") else calendar_id + "/"


def _last_segment(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or url
