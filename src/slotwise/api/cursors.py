"""Opaque list cursors, signed so that a cursor the server did not issue is refused (422)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from slotwise.domain.errors import InvalidInput


def encode(secret: bytes, position: Any) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    tag = hmac.new(secret, raw, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(tag + raw).decode().rstrip("=")


def decode(secret: bytes, cursor: str) -> Any:
    try:
        blob = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tag, raw = blob[:12], blob[12:]
        if not hmac.compare_digest(tag, hmac.new(secret, raw, hashlib.sha256).digest()[:12]):
            raise ValueError("bad signature")
        return json.loads(raw)
    except ValueError as error:
        raise InvalidInput("this cursor was not issued by this server",
                           ("query", "cursor")) from error
