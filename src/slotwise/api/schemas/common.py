"""Shared field types: instants in and out, IANA zones, problem answers, pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)

from slotwise.engine.zones import is_zone


def utc_text(value: datetime) -> str:
    """An instant as the API writes it: UTC, whole seconds, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339_text(value: object) -> object:
    """Only RFC 3339 text with an offset is an instant: never a bare number or a naive time."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("expected an RFC 3339 date-time with an offset, like "
                         "2027-03-15T09:00:00-04:00 or 2027-03-15T13:00:00Z")
    return value


def http_url(value: str) -> str:
    """An absolute http:// or https:// URL without spaces (webhooks, calendars)."""
    try:
        parts = urlsplit(value)
    except ValueError as error:
        raise ValueError(f"not a URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an absolute http:// or https:// URL")
    if any(ch.isspace() for ch in value):
        raise ValueError("a URL without spaces")
    return value


def _check_zone(value: str) -> str:
    if not is_zone(value):
        raise ValueError(f"{value!r} is not an IANA time zone name")
    return value


# Input must carry an offset (a bare number or a naive time is a 422); output is always UTC "Z".
Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text),
                    PlainSerializer(utc_text, return_type=str)]
Zone = Annotated[str, AfterValidator(_check_zone), Field(examples=["Europe/London"])]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]


class Body(BaseModel):
    """Request bodies refuse unknown fields, so a typo is a 422, not silently ignored, and
    NUL characters in text (no database stores them; ids are left to be 404s)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: object, info: ValidationInfo) -> object:
        name = info.field_name or ""
        field = cls.model_fields.get(name)
        # Pydantic would read true as 1: a boolean where a number is expected is a mistake.
        if isinstance(value, bool) and field is not None and not _takes_bool(field.annotation):
            raise ValueError("expected a number or text, not true or false")
        if name == "id" or name.endswith(("_id", "_ids")):
            return value
        if _has_nul(value):
            raise ValueError("text must not contain NUL characters")
        return value


def _takes_bool(annotation: object) -> bool:
    if annotation is bool:
        return True
    return any(_takes_bool(arg) for arg in get_args(annotation))


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class Window(BaseModel):
    start: Instant
    end: Instant


class SlotProblem(Problem):
    alternatives: list[Window] = []
    conflicts: list[Window] | None = None

