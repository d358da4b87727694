"""The Redis hold store against the real Redis, and a unit of work's Redis holds around commit.

Each test uses an organisation id of its own under the session's key prefix (tests/conftest.py).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
import redis
from redis.crc import key_slot
from sqlalchemy import Engine
from tests.conftest import T0, RedisKeys

from slotwise.domain.booking import Hold, HoldStatus
from slotwise.domain.errors import OverlapRefused
from slotwise.domain.model import HeldResource
from slotwise.holds.fallback import CircuitBreaker, RedisHoldsFactory
from slotwise.holds.redis import RedisHoldStore
from slotwise.store.database import make_engine
from slotwise.store.uow import SqlUnitOfWork

DAY = T0 + timedelta(days=7)


def at(hour: int) -> datetime:
    return DAY.replace(hour=hour)


@pytest.fixture
def org_id() -> str:
    return f"org_{secrets.token_hex(6)}"


@pytest.fixture
def store(redis_keys: RedisKeys) -> Iterator[RedisHoldStore]:
    client = redis.Redis.from_url(redis_keys.url)
    yield RedisHoldStore(client, redis_keys.prefix)
    client.close()


def new_hold(org_id: str, resource_ids: list[str], start: datetime, end: datetime, *,
             now: datetime = T0, ttl_s: int = 600) -> Hold:
    return Hold(id=f"hold_{secrets.token_hex(6)}", org_id=org_id, service_id="svc_1",
                start=start, end=end, created_at=now, expires_at=now + timedelta(seconds=ttl_s),
                resources=tuple(HeldResource(rid, start, end) for rid in resource_ids))


def live_ids(store: RedisHoldStore, org_id: str, resource_ids: list[str],
             now: datetime = T0) -> list[str]:
    return [h.id for h in store.live(org_id, resource_ids, at(0), at(23), now)]


def test_a_hold_on_several_resources_is_taken_whole_or_not_at_all(
        store: RedisHoldStore, org_id: str) -> None:
    first = new_hold(org_id, ["room"], at(10), at(11))
    store.acquire(first, T0)
    both = new_hold(org_id, ["doc", "room"], at(10) + timedelta(minutes=30), at(12))
    with pytest.raises(OverlapRefused):
        store.acquire(both, T0)
    assert store.get(org_id, both.id) is None
    assert live_ids(store, org_id, ["doc"]) == []
    assert live_ids(store, org_id, ["doc", "room"]) == [first.id]
    touching = new_hold(org_id, ["doc", "room"], at(11), at(12))  # half-open: 11:00 is free
    store.acquire(touching, T0)
    assert store.get(org_id, touching.id) == touching
    assert live_ids(store, org_id, ["doc", "room"]) == [first.id, touching.id]


def test_every_key_of_an_organisation_is_in_one_cluster_slot(
        store: RedisHoldStore, org_id: str, redis_keys: RedisKeys) -> None:
    store.acquire(new_hold(org_id, ["a", "b", "c"], at(10), at(11)), T0)
    keys = list(redis_keys.client.scan_iter(match=f"{redis_keys.prefix}:{{{org_id}}}:*"))
    assert len(keys) == 4
    assert len({key_slot(k) for k in keys}) == 1


def test_a_hold_expires_by_the_application_clock_and_is_swept_lazily(
        store: RedisHoldStore, org_id: str, redis_keys: RedisKeys) -> None:
    held = new_hold(org_id, ["room"], at(10), at(11), ttl_s=300)
    store.acquire(held, T0)
    later = T0 + timedelta(seconds=299)
    assert live_ids(store, org_id, ["room"], later) == [held.id]
    with pytest.raises(OverlapRefused):
        store.acquire(new_hold(org_id, ["room"], at(10), at(11), now=later), later)
    expiry = T0 + timedelta(seconds=300)
    assert live_ids(store, org_id, ["room"], expiry) == []
    taker = new_hold(org_id, ["room"], at(10), at(11), now=expiry)
    store.acquire(taker, expiry)
    members = redis_keys.client.zrange(f"{redis_keys.prefix}:{{{org_id}}}:res:room", 0, -1)
    assert [m.decode().split("|")[0] for m in members] == [taker.id]
    old = store.get(org_id, held.id)
    assert old is not None and not old.is_live(expiry)


def test_releasing_or_converting_frees_the_ranges_and_keeps_the_hold_readable(
        store: RedisHoldStore, org_id: str) -> None:
    released = new_hold(org_id, ["room"], at(10), at(11))
    converted = new_hold(org_id, ["room", "doc"], at(12), at(13))
    store.acquire(released, T0)
    store.acquire(converted, T0)
    store.save(replace(released, status=HoldStatus.RELEASED))
    store.save(replace(converted, status=HoldStatus.CONVERTED, booking_id="booking_1"))
    assert live_ids(store, org_id, ["room", "doc"]) == []
    assert store.get(org_id, released.id) == replace(released, status=HoldStatus.RELEASED)
    assert store.get(org_id, converted.id) == replace(
        converted, status=HoldStatus.CONVERTED, booking_id="booking_1")
    store.acquire(new_hold(org_id, ["room", "doc"], at(10), at(13)), T0)


def test_only_a_live_hold_is_extended_and_its_range_stays_held(
        store: RedisHoldStore, org_id: str) -> None:
    held = new_hold(org_id, ["room"], at(10), at(11), ttl_s=300)
    store.acquire(held, T0)
    now = T0 + timedelta(seconds=200)
    extended = store.extend(org_id, held.id, now + timedelta(seconds=600), now)
    assert extended == replace(held, expires_at=now + timedelta(seconds=600))
    assert store.get(org_id, held.id) == extended
    past_first_expiry = T0 + timedelta(seconds=400)
    assert live_ids(store, org_id, ["room"], past_first_expiry) == [held.id]
    with pytest.raises(OverlapRefused):
        store.acquire(new_hold(org_id, ["room"], at(10), at(11)), past_first_expiry)
    assert store.extend(org_id, "hold_unknown", now + timedelta(seconds=60), now) is None
    released = new_hold(org_id, ["doc"], at(10), at(11))
    store.acquire(released, T0)
    store.save(replace(released, status=HoldStatus.RELEASED))
    assert store.extend(org_id, released.id, now + timedelta(seconds=60), now) is None
    gone = T0 + timedelta(seconds=800)
    assert store.extend(org_id, held.id, gone + timedelta(seconds=60), gone) is None


def test_a_hold_reclaimed_by_a_later_clock_cannot_be_extended_back(
        store: RedisHoldStore, org_id: str) -> None:
    held = new_hold(org_id, ["room"], at(10), at(11), ttl_s=300)
    store.acquire(held, T0)
    later = T0 + timedelta(seconds=300)
    store.acquire(new_hold(org_id, ["room"], at(10), at(11), now=later), later)
    # a writer whose clock lags still sees the hold as live; the script sees its range is gone
    lagging = T0 + timedelta(seconds=299)
    assert store.extend(org_id, held.id, lagging + timedelta(seconds=600), lagging) is None


def test_every_store_sees_every_live_hold(redis_keys: RedisKeys, org_id: str) -> None:
    clients = [redis.Redis.from_url(redis_keys.url) for _ in range(2)]
    one, two = (RedisHoldStore(c, redis_keys.prefix) for c in clients)
    held = new_hold(org_id, ["room"], at(10), at(11))
    one.acquire(held, T0)
    assert live_ids(two, org_id, ["room"]) == [held.id]
    with pytest.raises(OverlapRefused):
        two.acquire(new_hold(org_id, ["room"], at(10), at(11)), T0)
    two.save(replace(held, status=HoldStatus.RELEASED))
    assert live_ids(one, org_id, ["room"]) == []
    for client in clients:
        client.close()


def test_many_concurrent_acquires_of_one_range_have_one_winner(
        redis_keys: RedisKeys, org_id: str) -> None:
    attempts = 24
    start = threading.Barrier(attempts)

    def attempt(i: int) -> bool:
        client = redis.Redis.from_url(redis_keys.url)
        store = RedisHoldStore(client, redis_keys.prefix)
        # every attempt overlaps every other on "room", each from a different minute
        hold = new_hold(org_id, ["room", f"doc{i}"], at(10) + timedelta(minutes=i), at(12))
        start.wait()
        try:
            store.acquire(hold, T0)
            return True
        except OverlapRefused:
            return False
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        won = list(pool.map(attempt, range(attempts)))
    assert won.count(True) == 1
    verify = RedisHoldStore(redis_keys.client, redis_keys.prefix)
    winner = won.index(True)
    assert len(live_ids(verify, org_id, ["room"])) == 1
    assert [len(live_ids(verify, org_id, [f"doc{i}"])) for i in range(attempts)] == [
        1 if i == winner else 0 for i in range(attempts)]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    yield built
    built.dispose()


def test_a_unit_of_work_that_does_not_commit_releases_the_holds_it_took(
        engine: Engine, store: RedisHoldStore, org_id: str) -> None:
    factory = RedisHoldsFactory(store, CircuitBreaker())
    held = new_hold(org_id, ["room", "doc"], at(10), at(11))
    with SqlUnitOfWork(engine, write=True, holds=factory) as uow:
        uow.holds.acquire(held, T0)
        assert live_ids(store, org_id, ["room"]) == [held.id]  # claimed at once, for everyone
    assert store.get(org_id, held.id) == replace(held, status=HoldStatus.RELEASED)
    assert live_ids(store, org_id, ["room", "doc"]) == []


def test_a_conversion_reaches_redis_only_with_the_commit(
        engine: Engine, store: RedisHoldStore, org_id: str) -> None:
    factory = RedisHoldsFactory(store, CircuitBreaker())
    held = new_hold(org_id, ["room"], at(10), at(11))
    with SqlUnitOfWork(engine, write=True, holds=factory) as uow:
        uow.holds.acquire(held, T0)
        uow.commit()
    assert live_ids(store, org_id, ["room"]) == [held.id]  # a committed acquire stays
    converted = replace(held, status=HoldStatus.CONVERTED, booking_id="booking_1")
    with SqlUnitOfWork(engine, write=True, holds=factory) as uow:
        found = uow.holds.get(org_id, held.id)
        assert found is not None
        uow.holds.save(replace(found, status=HoldStatus.CONVERTED, booking_id="booking_1"))
        assert uow.holds.get(org_id, held.id) == converted  # the unit of work sees its own
        assert live_ids(store, org_id, ["room"]) == [held.id]  # nobody else yet
        uow.commit()
    assert store.get(org_id, held.id) == converted
    with SqlUnitOfWork(engine, write=True, holds=factory) as uow:
        again = new_hold(org_id, ["room"], at(10), at(11))
        uow.holds.acquire(again, T0)
        uow.holds.save(replace(again, status=HoldStatus.CONVERTED, booking_id="booking_2"))
    # rolled back: its conversion never applied, its acquire undone
    assert store.get(org_id, again.id) == replace(again, status=HoldStatus.RELEASED)


def test_the_breaker_skips_redis_for_its_cooldown_then_tries_again() -> None:
    clock = [100.0]
    breaker = CircuitBreaker(cooldown_s=1.0, monotonic=lambda: clock[0])
    assert breaker.allows()
    breaker.trip(ConnectionError("refused"))
    assert not breaker.allows()
    clock[0] += 0.999
    assert not breaker.allows()
    clock[0] += 0.001
    assert breaker.allows()
