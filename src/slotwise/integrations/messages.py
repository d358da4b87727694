"""Messages, rendered from Jinja2 templates per kind and language.

`templates/messages/<lang>/<kind>.jinja` holds a kind's words in blocks: `subject`, `lead`
(paragraphs split by blank lines), optionally `action` (the button's label) and `sms`; its
language's `_labels.jinja` the labels of the detail rows and the footer. `_email.txt` and
`_email.html` lay every kind out the same way. The HTML is rendered with autoescaping, so a
customer's name cannot inject markup. Dates and times are formatted by Babel in the customer's
zone and locale; a language without templates falls back to English as a whole, so a message
never mixes two languages. A message to the organisation about a calendar connection
(`ConnectionDetails`) uses the same layout with its own detail rows and footer.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import (
    format_date,
    format_datetime,
    format_interval,
    format_skeleton,
    format_time,
    get_datetime_format,
    get_time_format,
)
from babel.lists import format_list
from babel.numbers import format_currency, get_currency_precision
from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from markupsafe import Markup

from slotwise.domain.model import Price
from slotwise.domain.notifications import (
    CONNECTION_KINDS,
    Attachment,
    BookingDetails,
    ConnectionDetails,
    Email,
    MessageDetails,
    MessageKind,
    Sms,
    subject_id,
)
from slotwise.domain.ports import Clock
from slotwise.integrations.invites import Method, build_invite, invite_uid

LANGUAGES = ("en", "de", "fr")
INVITE_FILENAME = "invite.ics"
INVITE_METHODS: dict[MessageKind, Method] = {
    MessageKind.CONFIRMATION: "REQUEST",
    MessageKind.RESCHEDULE: "REQUEST",
    MessageKind.CANCELLATION: "CANCEL",
}
# The time and place are history in these, so no link to join the meeting.
_NO_MEETING_LINK = {MessageKind.CANCELLATION, MessageKind.FAILED, MessageKind.REVIEW_REQUEST,
                    MessageKind.TEAM_FAILED}
# CLDR's typographic spaces and dashes are not in the GSM 7-bit alphabet: one of them would
# send a text as UCS-2, 70 characters a part instead of 160.
_SMS_PLAIN = str.maketrans({"\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2013": "-",
                            "\u2014": "-", "\u2019": "'", "\u201e": '"', "\u201c": '"',
                            "\u201d": '"', "\u00ab": '"', "\u00bb": '"'})
# A reason or a refund left over in the details must not show up in a later reminder.
_SHOWS_REASON = {MessageKind.PENDING, MessageKind.CANCELLATION, MessageKind.FAILED,
                 MessageKind.TEAM_FAILED}
_SHOWS_REFUND = {MessageKind.CANCELLATION, MessageKind.FAILED, MessageKind.TEAM_FAILED}
# How a connection's provider is named to a person; others by their id.
PROVIDER_NAMES = {"google": "Google", "microsoft": "Microsoft",
                  "caldav": "CalDAV", "ics": "ICS"}


class TemplateMessages:
    """The `MessageRenderer` port over `render_email` and `render_sms`."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def email(self, kind: MessageKind, details: MessageDetails) -> Email:
        return render_email(kind, details, now=self._clock.now())

    def sms(self, kind: MessageKind, details: BookingDetails) -> Sms | None:
        return render_sms(kind, details)


def render_email(kind: MessageKind, details: MessageDetails, *,
                 now: datetime | None = None) -> Email:
    """Subject, plain text and HTML in the recipient's language; confirmations and reschedules
    carry an iTIP REQUEST as `invite.ics`, cancellations a CANCEL. `now` is the invite's
    DTSTAMP (default: the current time). The Message-ID is derived from (subject, kind,
    sequence), so a resend is recognisable as the same message (Gmail keeps one copy).
    Raises ValueError when the details do not fit the kind (`CONNECTION_KINDS`)."""
    if (kind in CONNECTION_KINDS) != isinstance(details, ConnectionDetails):
        raise ValueError(f"{kind.value} messages are not made from {type(details).__name__}")
    lang, locale = resolve_locale(details.locale)
    text_env, html_env = _environments()
    if isinstance(details, ConnectionDetails):
        context = _connection_context(kind, details, lang, locale)
    else:
        context = _context(kind, details, lang, locale)
    kind_text = text_env.get_template(f"{lang}/{kind.value}.jinja")
    kind_html = html_env.get_template(f"{lang}/{kind.value}.jinja")
    subject = _one_line(_block(kind_text, "subject", context))
    action_label = _block(kind_text, "action", context) or context["t"].manage
    text = text_env.get_template("_email.txt").render(
        context, t=_labels(text_env, lang), subject=subject, action_label=action_label,
        lead=_block(kind_text, "lead", context))
    lead_html = Markup(_block(kind_html, "lead", context))
    html = html_env.get_template("_email.html").render(
        context, t=_labels(html_env, lang), subject=subject, action_label=action_label,
        lead_paragraphs=[Markup(p.strip()) for p in re.split(r"\n\s*\n", lead_html) if p.strip()])

    attachments: tuple[Attachment, ...] = ()
    method = INVITE_METHODS.get(kind)
    if method is not None and isinstance(details, BookingDetails):
        invite = build_invite(
            details, method, invite_uid(details.booking_id), details.sequence,
            now or datetime.now(UTC), description=_invite_description(details, method, context))
        attachments = (Attachment(INVITE_FILENAME, f"text/calendar; method={method}", invite),)
    if isinstance(details, ConnectionDetails):
        to, to_name = details.recipient_email, ""
    else:
        to = details.recipient_email or details.customer_email
        to_name = "" if details.recipient_email else details.customer_name
    return Email(
        to=to, to_name=to_name, subject=subject,
        text=text.strip() + "\n", html=html, from_name=details.org_name,
        reply_to=details.org_email, attachments=attachments,
        headers={"Message-ID": message_id(kind, details)},
    )


def render_sms(kind: MessageKind, details: BookingDetails) -> Sms | None:
    """A short text for the kinds that warrant one (not pending, not review requests), or
    None; None too when the customer has no phone number."""
    if not details.customer_phone:
        return None
    lang, locale = resolve_locale(details.locale)
    text_env, _ = _environments()
    template = text_env.get_template(f"{lang}/{kind.value}.jinja")
    body = _one_line(_block(template, "sms", _context(kind, details, lang, locale)))
    body = body.translate(_SMS_PLAIN)
    return Sms(to=details.customer_phone, body=body) if body else None


def message_id(kind: MessageKind, details: MessageDetails) -> str:
    """`<subject.kind.sequence@org-domain>`: the same for every send of the same message."""
    local = subject_id(details)
    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", local):
        local = hashlib.sha256(local.encode()).hexdigest()[:32]
    domain = details.org_email.rpartition("@")[2] or "slotwise.invalid"
    return f"<{local}.{kind.value}.{details.sequence}@{domain}>"


def resolve_locale(tag: str) -> tuple[str, Locale]:
    """The template language and the Babel locale for a tag ("de", "fr_CH", "en-GB");
    English for anything unknown or without templates."""
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return "en", Locale("en")
    if locale.language not in LANGUAGES:
        return "en", Locale("en")
    return locale.language, locale


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    value: str
    link: bool = False


def _context(kind: MessageKind, details: BookingDetails, lang: str, locale: Locale
             ) -> dict[str, Any]:
    zone = ZoneInfo(details.customer_timezone)
    text_env, _ = _environments()
    t = _labels(text_env, lang)
    when = format_when(details.start, details.end, zone, locale)
    offer_expires = offer_expires_short = None
    if details.offer_expires_at is not None:
        offer_expires = format_instant(details.offer_expires_at, zone, locale)
        offer_expires_short = format_instant_short(details.offer_expires_at, zone, locale)
    reason = details.reason if kind in _SHOWS_REASON else None
    refund = None
    if details.refund is not None and kind in _SHOWS_REFUND:
        refund = format_money(details.refund, locale)
    with_names = format_list(list(details.resource_names), locale=locale) or None
    meeting_url = None if kind in _NO_MEETING_LINK else _web_url(details.meeting_url)

    rows = [Row(t.when, when), Row(t.service, details.service_name)]
    if with_names:
        rows.append(Row(t.with_, with_names))
    if details.location_name:
        rows.append(Row(t.where, details.location_name))
    if meeting_url:
        rows.append(Row(t.online, meeting_url, link=True))
    if reason:
        rows.append(Row(t.reason, reason))
    if refund:
        rows.append(Row(t.refund, refund))
    if kind is MessageKind.WAITLIST_OFFER and offer_expires:
        rows.append(Row(t.offer_expires, offer_expires))

    return {
        "lang": lang,
        "kind": kind.value,
        "org_name": details.org_name,
        "service_name": details.service_name,
        "customer_name": details.customer_name,
        "customer_email": details.customer_email,
        "location_name": details.location_name,
        "meeting_url": meeting_url,
        "manage_url": details.manage_url,
        "offer_url": details.offer_url,
        "reason": reason,
        "refund": refund,
        "with_names": with_names,
        "when": when,
        "when_short": format_instant_short(details.start, zone, locale),
        "start_time": f"{format_time(details.start, 'short', tzinfo=zone, locale=locale)} "
                      f"{zone_label(details.start, zone, locale)}",
        "offer_expires": offer_expires,
        "offer_expires_short": offer_expires_short,
        "rows": rows,
        "action_url": _action_url(kind, details),
        "to_team": False,
        "t": t,
    }


def _connection_context(kind: MessageKind, details: ConnectionDetails, lang: str,
                        locale: Locale) -> dict[str, Any]:
    text_env, _ = _environments()
    t = _labels(text_env, lang)
    provider = PROVIDER_NAMES.get(details.provider, details.provider)
    last_success = None
    if details.last_success_at is not None:
        last_success = format_instant(details.last_success_at, ZoneInfo(details.timezone),
                                      locale)
    rows = [Row(t.calendar, f"{details.calendar} ({provider})"),
            Row(t.resource, details.resource_name)]
    if details.last_error:
        rows.append(Row(t.error, details.last_error))
    rows.append(Row(t.last_success, last_success or t.never))
    return {
        "lang": lang,
        "kind": kind.value,
        "org_name": details.org_name,
        "resource_name": details.resource_name,
        "provider": provider,
        "calendar": details.calendar,
        "access_refused": details.access_refused,
        "last_error": details.last_error,
        "last_success": last_success,
        "rows": rows,
        "action_url": None,  # the organisation's own settings, not a customer's page
        "to_team": True,
        "t": t,
    }


def _action_url(kind: MessageKind, details: BookingDetails) -> str | None:
    if kind is MessageKind.WAITLIST_OFFER:
        return _web_url(details.offer_url)
    if kind is MessageKind.REVIEW_REQUEST:
        return _web_url(details.review_url or details.manage_url)
    if kind in (MessageKind.CANCELLATION, MessageKind.FAILED):
        return None
    return _web_url(details.manage_url)


def _web_url(url: str | None) -> str | None:
    """The URL if it is http(s): escaping keeps markup out of an href, not `javascript:`."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def _invite_description(details: BookingDetails, method: Method, context: dict[str, Any]
                        ) -> str:
    t = context["t"]
    lines = []
    if details.meeting_url and method == "REQUEST":
        lines.append(f"{t.online}: {details.meeting_url}")
    if details.manage_url and method == "REQUEST":
        lines.append(f"{t.manage}: {details.manage_url}")
    return "\n\n".join(lines)


def zone_label(instant: datetime, zone: ZoneInfo, locale: Locale) -> str:
    """The zone's abbreviation where the locale has one ("CET", "MEZ", "EST"), else the
    offset ("GMT+05:30"): never a bare "+0530" nobody reads as a zone."""
    short = format_datetime(instant, "z", tzinfo=zone, locale=locale)
    if any(ch.isalpha() for ch in short):
        return short
    return format_datetime(instant, "ZZZZ", tzinfo=zone, locale=locale)


def format_when(start: datetime, end: datetime, zone: ZoneInfo, locale: Locale) -> str:
    """"Monday, March 1, 2027, 1:00 – 1:45 PM GMT+01:00" in the customer's zone; both ends in
    full when the booking ends on another local day."""
    label = zone_label(start, zone, locale)
    if start.astimezone(zone).date() == end.astimezone(zone).date():
        times = format_interval(start, end, _hour_skeleton(locale), tzinfo=zone, locale=locale)
        return _join(format_date(start.astimezone(zone), "full", locale=locale),
                     f"{times} {label}", locale)
    return f"{format_instant(start, zone, locale)} – {format_instant(end, zone, locale)}"


def format_instant(instant: datetime, zone: ZoneInfo, locale: Locale) -> str:
    local = instant.astimezone(zone)
    time = format_time(instant, "short", tzinfo=zone, locale=locale)
    return _join(format_date(local, "full", locale=locale),
                 f"{time} {zone_label(instant, zone, locale)}", locale)


def format_instant_short(instant: datetime, zone: ZoneInfo, locale: Locale) -> str:
    """"Mon, Mar 1, 1:00 PM EST": for subjects and text messages."""
    day = format_skeleton("MMMEd", instant, tzinfo=zone, locale=locale)
    time = format_time(instant, "short", tzinfo=zone, locale=locale)
    return _join(day, f"{time} {zone_label(instant, zone, locale)}", locale)


def format_money(price: Price, locale: Locale) -> str:
    amount = Decimal(price.amount).scaleb(-get_currency_precision(price.currency))
    return format_currency(amount, price.currency, locale=locale)


def _join(date: str, time: str, locale: Locale) -> str:
    pattern = str(get_datetime_format("medium", locale=locale)).replace("'", "")
    return pattern.replace("{1}", date).replace("{0}", time)


def _hour_skeleton(locale: Locale) -> str:
    return "hm" if "h" in get_time_format("short", locale=locale).pattern else "Hm"


def _block(template: Template, name: str, context: dict[str, Any]) -> str:
    block = template.blocks.get(name)
    if block is None:
        return ""
    return "".join(block(template.new_context(context))).strip()


def _one_line(text: str) -> str:
    # Not str.split(): it would turn the no-break spaces French puts before ":" into spaces.
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def _labels(env: Environment, lang: str) -> Any:
    return env.get_template(f"{lang}/_labels.jinja").module


@cache
def _environments() -> tuple[Environment, Environment]:
    """(plain text, HTML): the same templates, escaped only for HTML."""
    def environment(autoescape: bool) -> Environment:
        return Environment(
            loader=PackageLoader("slotwise.integrations", "templates/messages"),
            autoescape=autoescape, undefined=StrictUndefined, trim_blocks=True,
            lstrip_blocks=True, keep_trailing_newline=False)
    return environment(False), environment(True)
