"""The Redis hold store: each operation is one Lua script, atomic across all a hold's resources.

Keys carry the organisation as their hash tag, so every key one hold touches lives in one Redis
Cluster slot, and every key a script touches is passed in KEYS:

- `{prefix}:{<org>}:hold:<hold id>`: a hash with the hold (`data`, JSON of what never changes)
  and what does (`status`, `expires_at`, `booking_id`);
- `{prefix}:{<org>}:res:<resource id>`: a sorted set of the resource's held ranges, one member
  `<hold id>|<blocked start>|<blocked end>|<expires at>` (µs since the epoch) per live hold,
  scored by blocked end. An acquire reads only these members, never another hold's hash.

Expiry follows the application's clock: `now` is an argument of every script, so a frozen clock
(tests, `SLOTWISE_NOW`) keeps a hold alive. Expired members are removed lazily by the acquires
that meet them. Key TTLs are garbage collection only, in real time and generous.

The Redis of this project keeps nothing on disk: a restart forgets every hold in it (a booking's
allocation, in the database, is never forgotten). Errors of the client (`redis.RedisError`)
propagate; `holds/fallback.py` decides what an unreachable Redis means.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import redis
import redis.asyncio

from slotwise.domain.booking import Hold, HoldStatus
from slotwise.domain.errors import OverlapRefused
from slotwise.domain.model import HeldResource

# A settled (converted, released) hold stays readable this long, so a second DELETE is still a
# clean 404 about a known hold; a live hold's keys live this long past its expiry.
GC_SLACK = timedelta(days=1)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

# KEYS[1]: the hold's hash; KEYS[1 + i]: the sorted set of its i-th resource.
# ARGV[1]: now; ARGV[2]: GC TTL (ms); ARGV[3]: `data`; ARGV[4]: expires at;
# ARGV[4 + i]: the i-th resource's member without its expiry ("<hold>|<start>|<end>").
# Returns 0 when acquired, else the (1-based) index of the first resource with a live overlap.
_ACQUIRE = """
local now, gc_ms, expires = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[4]
-- Numbers stay strings where they are passed on: Lua would print 16 digits as 1.8e+15.
local function parts(member)
  return string.match(member, '^.*|(%d+)|(%d+)|(%d+)$')
end
for i = 2, #KEYS do
  local s, e = parts(ARGV[3 + i] .. '|0')
  for _, other in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. s, '+inf')) do
    local os, _, ox = parts(other)
    if tonumber(ox) <= now then
      redis.call('ZREM', KEYS[i], other)
    elseif tonumber(os) < tonumber(e) then
      return i - 1
    end
  end
  -- the oldest few too, so abandoned holds on ranges nobody asks for again go away
  for _, other in ipairs(redis.call('ZRANGE', KEYS[i], 0, 7)) do
    local _, _, ox = parts(other)
    if tonumber(ox) <= now then redis.call('ZREM', KEYS[i], other) end
  end
end
for i = 2, #KEYS do
  local _, e = parts(ARGV[3 + i] .. '|0')
  redis.call('ZADD', KEYS[i], e, ARGV[3 + i] .. '|' .. expires)
  if redis.call('PTTL', KEYS[i]) < gc_ms then redis.call('PEXPIRE', KEYS[i], gc_ms) end
end
redis.call('HSET', KEYS[1], 'data', ARGV[3], 'status', 'active', 'expires_at', expires,
           'booking_id', '')
redis.call('PEXPIRE', KEYS[1], gc_ms)
return 0
"""

# KEYS as for acquire. ARGV[1]: status; ARGV[2]: booking id or ''; ARGV[3]: expires at;
# ARGV[4]: GC TTL (ms); ARGV[5]: '' or `now`: then only a live hold whose every member is still
# in place (no acquire reclaimed it as expired) changes; ARGV[5 + i]: members as for acquire.
# Returns 1 when the hold changed, 0 when it is unknown (or, with `now`, not live).
_SAVE = """
local old = redis.call('HMGET', KEYS[1], 'status', 'expires_at')
if not old[1] then return 0 end
if ARGV[5] ~= '' then
  if old[1] ~= 'active' or tonumber(old[2]) <= tonumber(ARGV[5]) then return 0 end
  for i = 2, #KEYS do
    if not redis.call('ZSCORE', KEYS[i], ARGV[4 + i] .. '|' .. old[2]) then return 0 end
  end
end
local gc_ms = tonumber(ARGV[4])
for i = 2, #KEYS do
  local member = ARGV[4 + i]
  redis.call('ZREM', KEYS[i], member .. '|' .. old[2])
  if ARGV[1] == 'active' then
    redis.call('ZADD', KEYS[i], string.match(member, '|(%d+)$'), member .. '|' .. ARGV[3])
    if redis.call('PTTL', KEYS[i]) < gc_ms then redis.call('PEXPIRE', KEYS[i], gc_ms) end
  end
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'booking_id', ARGV[2], 'expires_at', ARGV[3])
redis.call('PEXPIRE', KEYS[1], gc_ms)
return 1
"""


def _us(value: datetime) -> int:
    return (value - _EPOCH) // _US


def _from_us(value: int | str) -> datetime:
    return _EPOCH + _US * int(value)


class RedisHoldStore:
    """Holds in Redis, applied at once (no transaction: see `holds/fallback.py` for how a unit
    of work defers status changes until its SQL work is done)."""

    def __init__(self, client: redis.Redis, prefix: str = "slotwise") -> None:
        self._r = client
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._save = client.register_script(_SAVE)

    def acquire(self, hold: Hold, now: datetime) -> None:
        data = json.dumps({
            "service_id": hold.service_id, "start": _us(hold.start), "end": _us(hold.end),
            "created_at": _us(hold.created_at),
            "resources": [[r.resource_id, _us(r.blocked_start), _us(r.blocked_end)]
                          for r in hold.resources],
        })
        refused = self._acquire(
            keys=self._keys(hold),
            args=[_us(now), self._gc_ms(hold.expires_at - now), data, _us(hold.expires_at),
                  *self._members(hold)])
        if refused:
            raise OverlapRefused(hold.resource_ids)

    def get(self, org_id: str, hold_id: str) -> Hold | None:
        fields = self._r.hgetall(self._hold_key(org_id, hold_id))
        return _hold(org_id, hold_id, fields) if fields else None

    def save(self, hold: Hold) -> None:
        self._apply(hold, now=None)

    def extend(self, org_id: str, hold_id: str, expires_at: datetime,
               now: datetime) -> Hold | None:
        hold = self.get(org_id, hold_id)
        if hold is None or not hold.is_live(now):
            return None
        extended = replace(hold, expires_at=expires_at)
        # The script checks again, atomically, that the hold is still live and still holds
        # every range: an acquire with a later clock may have reclaimed it in between.
        return extended if self._apply(extended, now=now) else None

    def live(self, org_id: str, resource_ids: Sequence[str], start: datetime, end: datetime,
             now: datetime) -> list[Hold]:
        if not resource_ids:
            return []
        pipe = self._r.pipeline(transaction=False)
        for rid in resource_ids:
            pipe.zrangebyscore(self._resource_key(org_id, rid), f"({_us(start)}", "+inf")
        ordered = _live_ids(pipe.execute(), end, now)
        if not ordered:
            return []
        pipe = self._r.pipeline(transaction=False)
        for hold_id in ordered:
            pipe.hgetall(self._hold_key(org_id, hold_id))
        return _live_holds(org_id, ordered, pipe.execute(), now)

    def live_of_org(self, org_id: str, now: datetime, limit: int,
                    after: tuple[datetime, str] | None = None) -> list[Hold]:
        # No index of an organisation's holds: a SCAN over its hold keys (they share the hash
        # tag, so one Cluster node), then their hashes. Linear in the organisation's recent
        # holds (settled ones linger GC_SLACK): fine for an admin page, never for a hot path.
        ids = sorted({_text(key).rsplit(":", 1)[1] for key in self._r.scan_iter(
            match=f"{self._hold_key(org_id, '*')}", count=500)})
        pipe = self._r.pipeline(transaction=False)
        for hold_id in ids:
            pipe.hgetall(self._hold_key(org_id, hold_id))
        found = [_hold(org_id, hold_id, fields)
                 for hold_id, fields in zip(ids, pipe.execute(), strict=True) if fields]
        live = sorted((h for h in found if h.is_live(now)
                       and (after is None or (h.start, h.id) > after)),
                      key=lambda h: (h.start, h.id))
        return live[:limit]

    def _apply(self, hold: Hold, now: datetime | None) -> bool:
        # A settled hold is kept only for GC_SLACK; a live one until its expiry plus that.
        gc_ms = self._gc_ms(timedelta(0) if now is None else hold.expires_at - now)
        changed = self._save(
            keys=self._keys(hold),
            args=[hold.status.value, hold.booking_id or "", _us(hold.expires_at), gc_ms,
                  "" if now is None else _us(now), *self._members(hold)])
        return bool(changed)

    def _keys(self, hold: Hold) -> list[str]:
        return [self._hold_key(hold.org_id, hold.id),
                *(self._resource_key(hold.org_id, r.resource_id) for r in hold.resources)]

    @staticmethod
    def _members(hold: Hold) -> list[str]:
        return [f"{hold.id}|{_us(r.blocked_start)}|{_us(r.blocked_end)}" for r in hold.resources]

    def _hold_key(self, org_id: str, hold_id: str) -> str:
        return _hold_key(self._prefix, org_id, hold_id)

    def _resource_key(self, org_id: str, resource_id: str) -> str:
        return _resource_key(self._prefix, org_id, resource_id)

    @staticmethod
    def _gc_ms(remaining: timedelta) -> int:
        return max(remaining + GC_SLACK, GC_SLACK) // timedelta(milliseconds=1)


class AsyncLiveHolds:
    """`RedisHoldStore.live` awaited on the event loop (the rush lane's read), on a
    redis.asyncio client of the same Redis and prefix."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str = "slotwise") -> None:
        self._r = client
        self._prefix = prefix

    async def live(self, org_id: str, resource_ids: Sequence[str], start: datetime,
                   end: datetime, now: datetime) -> list[Hold]:
        if not resource_ids:
            return []
        pipe = self._r.pipeline(transaction=False)
        for rid in resource_ids:
            pipe.zrangebyscore(_resource_key(self._prefix, org_id, rid), f"({_us(start)}", "+inf")
        ordered = _live_ids(await pipe.execute(), end, now)
        if not ordered:
            return []
        pipe = self._r.pipeline(transaction=False)
        for hold_id in ordered:
            pipe.hgetall(_hold_key(self._prefix, org_id, hold_id))
        return _live_holds(org_id, ordered, await pipe.execute(), now)

    async def close(self) -> None:
        await self._r.aclose()


def _hold_key(prefix: str, org_id: str, hold_id: str) -> str:
    return f"{prefix}:{{{org_id}}}:hold:{hold_id}"


def _resource_key(prefix: str, org_id: str, resource_id: str) -> str:
    return f"{prefix}:{{{org_id}}}:res:{resource_id}"


def _live_ids(members_by_resource: Sequence[Sequence[bytes | str]], end: datetime,
              now: datetime) -> list[str]:
    """The ids of the holds whose members overlap up to `end` and have not expired."""
    end_us, now_us = _us(end), _us(now)
    ids: set[str] = set()
    for members in members_by_resource:
        for member in members:
            hold_id, s, _, x = _text(member).rsplit("|", 3)
            if int(s) < end_us and int(x) > now_us:
                ids.add(hold_id)
    return sorted(ids)


def _live_holds(org_id: str, ordered: Sequence[str],
                hashes: Sequence[Mapping[bytes | str, bytes | str]], now: datetime
                ) -> list[Hold]:
    holds = [_hold(org_id, hold_id, fields)
             for hold_id, fields in zip(ordered, hashes, strict=True) if fields]
    return sorted((h for h in holds if h.is_live(now)), key=lambda h: (h.start, h.id))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _hold(org_id: str, hold_id: str, raw: Mapping[bytes | str, bytes | str]) -> Hold:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    data = json.loads(fields["data"])
    return Hold(
        id=hold_id, org_id=org_id, service_id=data["service_id"], start=_from_us(data["start"]),
        end=_from_us(data["end"]), created_at=_from_us(data["created_at"]),
        resources=tuple(HeldResource(rid, _from_us(s), _from_us(e))
                        for rid, s, e in data["resources"]),
        expires_at=_from_us(fields["expires_at"]), status=HoldStatus(fields["status"]),
        booking_id=fields["booking_id"] or None,
    )
