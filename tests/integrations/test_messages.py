"""Message templates: every kind in every language, dates in the customer's zone and locale."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from icalendar import Calendar

from slotwise.app.clock import FrozenClock
from slotwise.domain.model import Price
from slotwise.domain.notifications import (
    CONNECTION_KINDS,
    BookingDetails,
    ConnectionDetails,
    MessageKind,
    message_key,
)
from slotwise.integrations.messages import (
    INVITE_FILENAME,
    LANGUAGES,
    TemplateMessages,
    render_email,
    render_sms,
)

NOW = datetime(2027, 2, 1, 9, 30, tzinfo=UTC)
# CLDR's spacing: a narrow no-break space before AM/PM, thin spaces around a range's dash.
NNBSP, THIN = "\u202f", "\u2009"
BOOKING_KINDS = [kind for kind in MessageKind if kind not in CONNECTION_KINDS]
SMS_KINDS = set(BOOKING_KINDS) - {MessageKind.PENDING, MessageKind.REVIEW_REQUEST,
                                  MessageKind.TEAM_FAILED}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", BOOKING_KINDS)
def test_every_kind_renders_in_every_language(make_details, kind, lang):
    details = make_details(locale=lang, reason="x", refund=Price(2500, "EUR"),
                           offer_url="https://book.example/o/1",
                           offer_expires_at=datetime(2027, 2, 27, 18, 0, tzinfo=UTC),
                           review_url="https://book.example/r/1")
    email = render_email(kind, details, now=NOW)

    assert email.subject
    assert "\n" not in email.subject
    assert email.to == "ana@example.com"
    assert email.reply_to == "hello@acme.example"
    assert email.from_name == "Acme Dental"
    for body in (email.text, email.html):
        assert "Ana Müller" in body
        assert "Check-up" in body
        assert "{{" not in body
        assert "{%" not in body
    assert f'<html lang="{lang}">' in email.html
    sms = render_sms(kind, details)
    assert (sms is not None) == (kind in SMS_KINDS)
    if sms is not None:
        assert sms.to == "+4915112345678"
        assert "Acme Dental" in sms.body


@pytest.mark.parametrize(("locale", "zone", "date", "times"), [
    ("en", "Europe/Berlin", "Monday, March 1, 2027", f"1:00{THIN}–{THIN}1:45{NNBSP}PM GMT+01:00"),
    ("de", "Europe/Berlin", "Montag, 1. März 2027", "13:00–13:45 Uhr MEZ"),
    ("fr", "Europe/Berlin", "lundi 1 mars 2027", f"13:00{THIN}–{THIN}13:45 UTC+01:00"),
    ("en", "America/New_York", "Monday, March 1, 2027", f"7:00{THIN}–{THIN}7:45{NNBSP}AM EST"),
    ("fr", "America/New_York", "lundi 1 mars 2027", f"07:00{THIN}–{THIN}07:45 HNE"),
])
def test_the_time_is_shown_in_the_customers_zone_and_locale(make_details, locale, zone, date,
                                                            times):
    email = render_email(MessageKind.CONFIRMATION,
                         make_details(locale=locale, customer_timezone=zone), now=NOW)

    assert f"{date}, {times}" in email.text
    assert date in email.html


def test_the_zone_abbreviation_follows_dst(make_details):
    # US DST starts 2027-03-14 at 02:00 local: 14:00 UTC that day is 10:00 EDT, not 9:00 EST.
    details = make_details(customer_timezone="America/New_York",
                           start=datetime(2027, 3, 14, 14, 0, tzinfo=UTC),
                           end=datetime(2027, 3, 14, 15, 0, tzinfo=UTC))
    email = render_email(MessageKind.REMINDER_24H, details, now=NOW)

    assert f"Sunday, March 14, 2027, 10:00{THIN}–{THIN}11:00{NNBSP}AM EDT" in email.text
    assert email.subject == f"Reminder: Check-up on Sun, Mar 14, 10:00{NNBSP}AM EDT"


def test_a_booking_past_local_midnight_shows_both_days(make_details):
    details = make_details(start=datetime(2027, 3, 1, 22, 30, tzinfo=UTC),
                           end=datetime(2027, 3, 2, 0, 30, tzinfo=UTC))
    email = render_email(MessageKind.CONFIRMATION, details, now=NOW)

    assert (f"Monday, March 1, 2027, 11:30{NNBSP}PM GMT+01:00 – "
            f"Tuesday, March 2, 2027, 1:30{NNBSP}AM GMT+01:00") in email.text


@pytest.mark.parametrize(("locale", "subject"), [
    ("de", "Buchung bestätigt: Check-up am Mo., 1. März, 13:00 MEZ"),
    ("fr", "Réservation confirmée\u00a0: Check-up le lun. 1 mars, 13:00 UTC+01:00"),
    ("fr-CH", "Réservation confirmée\u00a0: Check-up le lun. 1 mars, 13:00 UTC+01:00"),
    ("en_GB", "Booking confirmed: Check-up on Mon 1 Mar, 13:00 CET"),
])
def test_languages_with_templates_are_used_with_their_regional_formats(make_details, locale,
                                                                       subject):
    email = render_email(MessageKind.CONFIRMATION, make_details(locale=locale), now=NOW)

    assert email.subject == subject


@pytest.mark.parametrize("locale", ["xx", "", "pt-BR", "not a locale"])
def test_a_locale_without_templates_falls_back_to_english_as_a_whole(make_details, locale):
    email = render_email(MessageKind.CONFIRMATION, make_details(locale=locale), now=NOW)

    assert email.subject == f"Booking confirmed: Check-up on Mon, Mar 1, 1:00{NNBSP}PM GMT+01:00"
    assert "Monday, March 1, 2027" in email.text  # English dates too, not Portuguese ones
    assert '<html lang="en">' in email.html


def test_html_escapes_what_the_customer_typed_and_text_keeps_it(make_details):
    details = make_details(customer_name="<script>alert(1)</script> & Co")
    email = render_email(MessageKind.CONFIRMATION, details, now=NOW)

    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in email.html
    assert "Hello <script>alert(1)</script> & Co," in email.text


def test_only_http_links_become_links(make_details):
    details = make_details(meeting_url="javascript:alert(1)", manage_url="javascript:alert(2)")
    email = render_email(MessageKind.CONFIRMATION, details, now=NOW)

    assert "javascript:" not in email.html
    assert "javascript:" not in email.text


@pytest.mark.parametrize(("kind", "method"), [
    (MessageKind.CONFIRMATION, "REQUEST"),
    (MessageKind.RESCHEDULE, "REQUEST"),
    (MessageKind.CANCELLATION, "CANCEL"),
])
def test_confirmations_reschedules_and_cancellations_carry_an_invite(make_details, kind,
                                                                     method):
    email = render_email(kind, make_details(sequence=3), now=NOW)

    [attachment] = email.attachments
    assert attachment.filename == INVITE_FILENAME == "invite.ics"
    assert attachment.mime_type == f"text/calendar; method={method}"
    calendar = Calendar.from_ical(attachment.content)
    assert calendar["METHOD"] == method
    [event] = calendar.walk("VEVENT")
    assert event["SEQUENCE"] == 3
    assert event.decoded("DTSTAMP") == NOW


@pytest.mark.parametrize("kind", sorted(set(BOOKING_KINDS) - {
    MessageKind.CONFIRMATION, MessageKind.RESCHEDULE, MessageKind.CANCELLATION}))
def test_other_kinds_carry_no_invite(make_details, kind):
    assert render_email(kind, make_details(), now=NOW).attachments == ()


def test_the_invite_describes_the_links_in_the_customers_language(make_details):
    email = render_email(MessageKind.CONFIRMATION,
                         make_details(locale="de", meeting_url="https://meet.example/a"), now=NOW)
    [event] = Calendar.from_ical(email.attachments[0].content).walk("VEVENT")

    assert str(event["DESCRIPTION"]) == ("Online teilnehmen: https://meet.example/a\n\n"
                                         "Buchung verwalten: https://book.example/m/tok")


def test_the_message_id_is_the_same_for_every_send_of_one_message(make_details):
    first = render_email(MessageKind.CONFIRMATION, make_details(), now=NOW)
    again = render_email(MessageKind.CONFIRMATION, make_details(), now=datetime.now(UTC))
    reminder = render_email(MessageKind.REMINDER_24H, make_details(), now=NOW)
    after_a_move = render_email(MessageKind.REMINDER_24H, make_details(sequence=1), now=NOW)

    assert first.headers["Message-ID"] == again.headers["Message-ID"] == (
        "<bk_0123456789abcdef01234567.confirmation.0@acme.example>")
    assert len({first.headers["Message-ID"], reminder.headers["Message-ID"],
                after_a_move.headers["Message-ID"]}) == 3


def test_the_message_key_names_booking_kind_and_sequence(make_details):
    assert message_key(MessageKind.REMINDER_1H, make_details(sequence=2)) == (
        "bk_0123456789abcdef01234567:reminder_1h:2")


@pytest.mark.parametrize(("locale", "currency", "amount", "shown"), [
    ("en", "EUR", 2500, "€25.00"),
    ("de", "EUR", 2500, "25,00\u00a0€"),
    ("en", "JPY", 2500, "¥2,500"),
])
def test_a_refund_is_shown_in_the_locales_money_format(make_details, locale, currency, amount,
                                                       shown):
    details = make_details(locale=locale, refund=Price(amount, currency), reason="Closed")
    email = render_email(MessageKind.CANCELLATION, details, now=NOW)

    assert shown in email.text
    assert "Closed" in email.text


def test_a_leftover_reason_or_refund_stays_out_of_a_reminder(make_details):
    details = make_details(reason="Payment declined", refund=Price(2500, "EUR"))
    email = render_email(MessageKind.REMINDER_24H, details, now=NOW)

    assert "Payment declined" not in email.text
    assert "25.00" not in email.text


def test_a_failed_booking_says_why_and_offers_no_manage_link(make_details):
    details = make_details(reason="The payment was declined.")
    email = render_email(MessageKind.FAILED, details, now=NOW)

    assert "Reason: The payment was declined." in email.text
    assert "https://book.example/m/tok" not in email.text


def test_a_waitlist_offer_links_to_the_offer_and_says_until_when(make_details):
    details = make_details(offer_url="https://book.example/o/1",
                           offer_expires_at=datetime(2027, 2, 27, 18, 0, tzinfo=UTC))
    email = render_email(MessageKind.WAITLIST_OFFER, details, now=NOW)
    sms = render_sms(MessageKind.WAITLIST_OFFER, details)

    assert "Book this time: https://book.example/o/1" in email.text
    assert 'href="https://book.example/o/1"' in email.html
    assert (f"reserved for you until Saturday, February 27, 2027, 7:00{NNBSP}PM GMT+01:00"
            in email.text)
    assert sms is not None
    assert "https://book.example/o/1" in sms.body


def test_a_review_request_links_to_the_review_page(make_details):
    email = render_email(MessageKind.REVIEW_REQUEST,
                         make_details(review_url="https://book.example/r/1"), now=NOW)

    assert "Leave a review: https://book.example/r/1" in email.text


def test_no_text_message_without_a_phone_number(make_details):
    assert render_sms(MessageKind.CONFIRMATION, make_details(customer_phone=None)) is None


def test_a_text_message_is_short_and_in_the_customers_language(make_details):
    sms = render_sms(MessageKind.REMINDER_1H, make_details(locale="de"))

    assert sms is not None
    assert sms.body == "Acme Dental: Ihr Termin Check-up beginnt um 13:00 MEZ."


def test_a_text_message_keeps_to_the_gsm_alphabet_where_the_formats_would_not(make_details):
    sms = render_sms(MessageKind.CONFIRMATION, make_details(manage_url=None))

    # CLDR would put a narrow no-break space before "PM": a UCS-2 text, 70 characters a part.
    assert sms is not None
    assert sms.body == ("Acme Dental: your Check-up is confirmed for "
                        "Mon, Mar 1, 1:00 PM GMT+01:00.")
    assert sms.body.isascii()


def test_template_messages_stamp_invites_with_the_clock(make_details):
    messages = TemplateMessages(FrozenClock(NOW))
    email = messages.email(MessageKind.CONFIRMATION, make_details())
    [event] = Calendar.from_ical(email.attachments[0].content).walk("VEVENT")

    assert event.decoded("DTSTAMP") == NOW
    assert messages.sms(MessageKind.PENDING, make_details()) is None


@pytest.mark.parametrize(("change", "error"), [
    ({"start": datetime(2027, 3, 1, 12, 0)}, "start must be an aware datetime"),
    ({"end": datetime(2027, 3, 1, 11, 0, tzinfo=UTC)}, "end must be after start"),
    ({"customer_timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
    ({"sequence": -1}, "sequence must not be negative"),
])
def test_booking_details_refuse_what_would_fail_later(make_details, change, error):
    base = make_details()
    fields = {name: getattr(base, name) for name in BookingDetails.__dataclass_fields__}
    with pytest.raises(ValueError, match=error):
        BookingDetails(**{**fields, **change})


def connection_details(**changes: Any) -> ConnectionDetails:
    fields: dict[str, Any] = {
        "connection_id": "cal_0123456789abcdef01234567", "org_name": "Acme Dental",
        "org_email": "hello@acme.example", "recipient_email": "owner@acme.example",
        "resource_name": "Dr. Ng <3", "provider": "google", "calendar": "Work",
        "access_refused": True, "last_error": "CalendarAuthError: invalid_grant",
        "last_success_at": datetime(2027, 3, 1, 11, 0, tzinfo=UTC),
        "timezone": "Europe/Berlin", "sequence": 0}
    return ConnectionDetails(**{**fields, **changes})


@pytest.mark.parametrize(("lang", "subject", "refused", "kept"), [
    ("en", "Calendar not syncing: Work (Dr. Ng <3)",
     "The calendar no longer accepts slotwise’s access: reconnect it.",
     "keeps the busy time it last read (Monday, March 1, 2027, 12:00"),
    ("de", "Kalender wird nicht synchronisiert: Work (Dr. Ng <3)",
     "Der Kalender akzeptiert den Zugriff von slotwise nicht mehr: Verbinden Sie ihn neu.",
     "die zuletzt gelesenen belegten Zeiten (Montag, 1. März 2027, 12:00 MEZ)"),
    ("fr", "Calendrier non synchronisé : Work (Dr. Ng <3)",
     "Le calendrier n’accepte plus l’accès de slotwise : reconnectez-le.",
     "les créneaux occupés lus en dernier (lundi 1 mars 2027, 12:00 UTC+01:00)"),
])
def test_a_failing_calendar_is_told_to_the_owner_in_every_language(lang, subject, refused,
                                                                   kept):
    email = render_email(MessageKind.CALENDAR_FAILED, connection_details(locale=lang), now=NOW)

    assert email.subject == subject
    assert (email.to, email.to_name) == ("owner@acme.example", "")
    assert email.reply_to == "hello@acme.example"
    assert email.attachments == ()
    assert email.headers["Message-ID"] == (
        "<cal_0123456789abcdef01234567.calendar_failed.0@acme.example>")
    text = " ".join(email.text.split())
    assert refused in text
    assert kept in text
    assert "Work (Google)" in text
    assert "CalendarAuthError: invalid_grant" in text
    for body in (email.text, email.html):
        assert "{{" not in body and "{%" not in body
        assert "booking with" not in body  # the team footer, not the customer's
    assert f'<html lang="{lang}">' in email.html
    assert "Dr. Ng &lt;3" in email.html
    assert email.html.count("<p style=\"margin:0 0 16px;\">") == 4  # the lead's paragraphs


def test_a_calendar_that_errs_says_the_last_error_and_one_never_read_says_so():
    email = render_email(MessageKind.CALENDAR_FAILED, connection_details(
        access_refused=False, provider="caldav",
        last_error="CalendarUnavailable: connection refused", last_success_at=None), now=NOW)
    text = " ".join(email.text.split())

    assert "The last attempt failed: CalendarUnavailable: connection refused." in text
    assert "reconnect it" not in text
    assert "has not read any busy time from this calendar yet" in text
    assert "Busy time last read: never" in text
    assert "Work (CalDAV)" in text


def test_details_that_do_not_fit_the_kind_are_refused(make_details):
    with pytest.raises(ValueError, match="calendar_failed"):
        render_email(MessageKind.CALENDAR_FAILED, make_details(), now=NOW)
    with pytest.raises(ValueError, match="confirmation"):
        render_email(MessageKind.CONFIRMATION, connection_details(), now=NOW)


def test_the_message_key_names_a_connection_by_its_id():
    assert message_key(MessageKind.CALENDAR_FAILED, connection_details(sequence=2)) == (
        "cal_0123456789abcdef01234567:calendar_failed:2")
