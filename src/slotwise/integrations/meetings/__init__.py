"""Adapters behind `slotwise.domain.meetings.MeetingProvider`."""

from slotwise.integrations.meetings.http import HttpMeetings
from slotwise.integrations.meetings.jitsi import JitsiMeetings

__all__ = ["HttpMeetings", "JitsiMeetings"]
