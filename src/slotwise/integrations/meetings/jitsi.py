"""Jitsi Meet links: no API call, the room exists when its first participant opens the URL.

Anyone who knows a room's name can join it, so the name is the only secret: 160 random bits.
Jitsi folds room names to lower case (Prosody's nodeprep), so `token_urlsafe`'s upper case
letters would add no entropy there and two links differing only in case would open the same
room: the random part uses a lower-case alphabet (base32) instead. The readable prefix comes
from the title; it appears in the URL (and the provider's logs), so titles should not carry
personal data.

On meet.jit.si the first participant must sign in to start the meeting; a self-hosted Jitsi
decides this by its own configuration.
"""

from __future__ import annotations

import base64
import re
import secrets
import unicodedata

from slotwise.domain.meetings import Meeting, MeetingRejected, MeetingRequest

ROOM_SECRET_BYTES = 20  # 160 bits
PREFIX_MAX_CHARS = 40


def slugify(title: str, max_chars: int = PREFIX_MAX_CHARS) -> str:
    """Lower-case ASCII letters and digits joined by single hyphens; accents are dropped."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    return "-".join(words)[:max_chars].strip("-")


def room_name(title: str) -> str:
    """`<slug>-<32 lower-case base32 characters>`, or `meeting-…` when the title has no
    letters or digits to show."""
    secret = base64.b32encode(secrets.token_bytes(ROOM_SECRET_BYTES)).decode().lower()
    return f"{slugify(title) or 'meeting'}-{secret}"


class JitsiMeetings:
    """`MeetingProvider` for meet.jit.si or a self-hosted Jitsi Meet at `base_url`."""

    name = "jitsi"

    def __init__(self, base_url: str) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")

    def create(self, request: MeetingRequest) -> Meeting:
        """A new room on each call: there is nothing on a server to deduplicate against."""
        room = room_name(request.title)
        return Meeting(provider=self.name, external_id=room,
                       join_url=f"{self.base_url}/{room}", data={"room": room})

    def update(self, meeting: Meeting, request: MeetingRequest) -> Meeting:
        """The same room: a Jitsi room has no time, so a reschedule changes nothing."""
        if meeting.provider != self.name:
            raise MeetingRejected(f"not a Jitsi meeting: {meeting.provider!r}")
        return meeting

    def delete(self, meeting: Meeting) -> None:
        """Nothing to delete: an empty room ceases to exist on its own."""
