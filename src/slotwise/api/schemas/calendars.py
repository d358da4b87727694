"""Calendar connections, their health, and the resources' private feeds as the API shows
them. Credentials go in and never come out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from slotwise.api.schemas.common import Body, Instant, http_url

StatusName = Literal["pending", "ok", "error", "auth_failed", "disabled"]


class CalendarIn(Body):
    resource_id: str = Field(max_length=40)
    provider: Literal["caldav", "ics"] = Field(
        description="caldav: a CalDAV calendar collection (read and write); ics: a "
                    "subscription to an ICS URL (read only). Google and Microsoft connect "
                    "through POST /v1/calendars/oauth/{provider}/start.")
    url: str = Field(max_length=2048, description="the calendar collection's or feed's URL")
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=500, description="kept secret")
    email: str | None = Field(default=None, max_length=320,
                              description="the account's own address: events it declined "
                                          "are not busy")
    name: str | None = Field(default=None, max_length=200)
    import_busy: bool = True
    export_bookings: bool | None = Field(
        default=None, description="write bookings as events (default: true for caldav; an "
                                  "ics subscription is read only)")
    poll_s: int = Field(default=60, ge=1, le=86_400,
                        description="how often to look for changes (seconds)")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)

    @model_validator(mode="after")
    def _ics_is_read_only(self) -> CalendarIn:
        if self.provider == "ics" and self.export_bookings:
            raise ValueError("an ics subscription is read only: export_bookings must be false")
        return self


class CalendarPatch(Body):
    name: str | None = Field(default=None, max_length=200)
    import_busy: bool | None = None
    export_bookings: bool | None = None
    poll_s: int | None = Field(default=None, ge=1, le=86_400)
    enabled: bool | None = Field(default=None, description="false pauses the connection")


class SyncIn(Body):
    full: bool = Field(default=False, description="re-read the whole window, not only changes")


class CalendarHealth(BaseModel):
    status: StatusName
    last_sync_at: Instant | None
    last_success_at: Instant | None
    lag_s: int | None = Field(description="age of the busy data in seconds (null: never "
                                          "synced)")
    last_error: str | None
    last_error_at: Instant | None
    failures: int
    push: bool = Field(description="whether a push channel is open")


class CalendarOut(BaseModel):
    id: str
    resource_id: str
    provider: str
    calendar_id: str
    name: str | None
    import_busy: bool
    export_bookings: bool
    poll_s: int
    created_at: Instant
    health: CalendarHealth


class CalendarPage(BaseModel):
    items: list[CalendarOut]
    next_cursor: str | None


class OAuthStartIn(Body):
    resource_id: str = Field(max_length=40)
    redirect_uri: str | None = Field(
        default=None, max_length=2048,
        description="where the provider sends the person back (default: this server's "
                    "callback)")

    @field_validator("redirect_uri")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)


class OAuthStartOut(BaseModel):
    authorize_url: str
    state: str


class FeedOut(BaseModel):
    url: str = Field(description="subscribe to it in any calendar app; shown only here")
    token: str
    created_at: Instant
