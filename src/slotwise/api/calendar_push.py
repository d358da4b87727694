"""What the calendar providers' push notifications say, read from the HTTP request: Google's
channel headers and Microsoft Graph's JSON batches. Pure parsing; the routes check the
tokens against the stored channels (app/calendar_sync.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

RESOURCE_STATES = frozenset({"sync", "exists", "not_exists"})


@dataclass(frozen=True, slots=True)
class GoogleNotification:
    """One push notification. `token` must equal the channel's (compare in constant time);
    state `sync` only confirms a new channel, `exists`/`not_exists` mean: sync now."""

    channel_id: str
    token: str | None
    resource_state: str
    resource_id: str
    message_number: int


def parse_google_notification(headers: Mapping[str, str]) -> GoogleNotification | None:
    """The notification in a request's headers (any case), or None when they are not a
    well-formed Google channel notification."""
    lower = {name.lower(): value.strip() for name, value in headers.items()}
    channel_id = lower.get("x-goog-channel-id", "")
    state = lower.get("x-goog-resource-state", "")
    resource_id = lower.get("x-goog-resource-id", "")
    number = lower.get("x-goog-message-number", "")
    if not channel_id or not resource_id or state not in RESOURCE_STATES or not number.isdigit():
        return None
    return GoogleNotification(channel_id=channel_id,
                              token=lower.get("x-goog-channel-token") or None,
                              resource_state=state, resource_id=resource_id,
                              message_number=int(number))



@dataclass(frozen=True, slots=True)
class GraphNotification:
    """One change notification. `client_state` must equal the subscription's token (compare
    in constant time)."""

    subscription_id: str
    client_state: str | None
    change_type: str
    resource: str | None = None


def parse_graph_notifications(body: bytes) -> list[GraphNotification]:
    """The notifications in a Graph webhook POST body (`{"value": [...]}`). Raises ValueError
    when the body is not one."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("a Graph notification body must be JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("value"), list):
        raise ValueError('a Graph notification body is {"value": [...]}')
    notifications = []
    for item in payload["value"]:
        if not isinstance(item, dict):
            raise ValueError(f"a notification must be an object: {item!r:.100}")
        subscription_id, change_type = item.get("subscriptionId"), item.get("changeType")
        client_state, resource = item.get("clientState"), item.get("resource")
        if not isinstance(subscription_id, str) or not subscription_id:
            raise ValueError("a notification without a subscriptionId")
        if not isinstance(change_type, str) or not change_type:
            raise ValueError("a notification without a changeType")
        if client_state is not None and not isinstance(client_state, str):
            raise ValueError("a clientState must be a string")
        notifications.append(GraphNotification(
            subscription_id, client_state, change_type,
            resource if isinstance(resource, str) else None))
    return notifications


