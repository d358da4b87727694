"""The pages' Jinja2 environment: autoescaped templates from `templates/`, gettext from the
request's locale, and filters that format instants in a zone (with its abbreviation beside
every time), dates, numbers and money per locale."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time, get_timezone_name
from babel.numbers import format_currency, format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from slotwise.web import i18n

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


class Pages:
    """Renders pages for a request in its negotiated locale."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "xml"]),
            undefined=StrictUndefined, extensions=["jinja2.ext.i18n"], trim_blocks=True,
            lstrip_blocks=True)

    def locale(self, request: Request) -> str:
        return i18n.negotiate(request.query_params.get("lang"),
                              request.cookies.get(i18n.COOKIE),
                              request.headers.get("accept-language"))

    def render(self, request: Request, template: str, status_code: int = 200,
               **context: Any) -> HTMLResponse:
        locale = self.locale(request)
        env = self.env.overlay()
        env.install_gettext_translations(i18n.translations(locale),  # type: ignore[attr-defined]
                                         newstyle=True)
        env.filters.update(_filters(i18n.region_locale(
            locale, request.headers.get("accept-language"))))
        body = env.get_template(template).render(
            request=request, locale=locale, languages=i18n.LANGUAGES, **context)
        response = HTMLResponse(body, status_code=status_code)
        if request.query_params.get("lang") in i18n.LANGUAGES:
            response.set_cookie(i18n.COOKIE, locale, max_age=365 * 86400, samesite="lax")
        return response


def _filters(locale: str) -> dict[str, Any]:
    where = i18n.babel_locale(locale)

    def time_in(instant: datetime, zone: str) -> str:
        """`09:00 CET`: the local time and the zone's abbreviation at that instant."""
        local = instant.astimezone(ZoneInfo(zone))
        return f"{format_time(local, 'short', locale=where)} {local.tzname()}"

    def date_in(instant: datetime, zone: str, style: str = "full") -> str:
        return format_date(instant.astimezone(ZoneInfo(zone)).date(), style, locale=where)

    def datetime_in(instant: datetime, zone: str, style: str = "medium") -> str:
        local = instant.astimezone(ZoneInfo(zone))
        return f"{format_datetime(local, style, tzinfo=ZoneInfo(zone), locale=where)} " \
               f"{local.tzname()}"

    def zone_name(zone: str) -> str:
        return get_timezone_name(ZoneInfo(zone), locale=where)

    def money(amount: Decimal | int | float, currency: str) -> str:
        return format_currency(amount, currency, locale=where)

    def number(value: Decimal | int | float) -> str:
        return format_decimal(value, locale=where)

    return {"time_in": time_in, "date_in": date_in, "datetime_in": datetime_in,
            "zone_name": zone_name, "money": money, "number": number}
