"""The LiveBus over Redis pub/sub: one channel per deployment (`<prefix>:live`), each
message `{"org_id", "message"}` as JSON. Each process's thread subscribes and reconnects
after an outage (messages published meanwhile are lost: they are hints)."""

from __future__ import annotations

import json
import logging
import threading

import redis

from slotwise.domain.live import Deliver, LiveMessage

log = logging.getLogger("slotwise.live")


class RedisLiveBus:
    def __init__(self, url: str, prefix: str, *, timeout_s: float = 0.5) -> None:
        self.channel = f"{prefix}:live"
        self._url = url
        self._publisher = redis.Redis.from_url(url, socket_timeout=timeout_s,
                                               socket_connect_timeout=timeout_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish(self, org_id: str, message: LiveMessage) -> None:
        self._publisher.publish(self.channel, json.dumps({"org_id": org_id,
                                                          "message": message}))

    def start(self, deliver: Deliver) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._listen, args=(deliver,),
                                        name="live-redis", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self._publisher.close()

    def _listen(self, deliver: Deliver) -> None:
        failures = 0
        while not self._stop.is_set():
            client = redis.Redis.from_url(self._url, socket_connect_timeout=2,
                                          health_check_interval=30)
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                failures = 0
                while not self._stop.is_set():
                    got = pubsub.get_message(timeout=0.5)
                    if got is not None and got["type"] == "message":
                        _deliver(deliver, got["data"])
                pubsub.close()
            except redis.RedisError:
                failures += 1
                log.warning("live updates: Redis unreachable, retrying", exc_info=True)
                self._stop.wait(min(10.0, 0.5 * 2 ** min(failures, 5)))
            finally:
                client.close()


def _deliver(deliver: Deliver, raw: bytes | str) -> None:
    try:
        envelope = json.loads(raw)
        deliver(str(envelope["org_id"]), dict(envelope["message"]))
    except (ValueError, KeyError, TypeError):
        log.warning("live updates: a malformed message was dropped")
