"""The `Mailer` port over SMTP (stdlib smtplib), one connection per message.

An invitation travels the way Google Calendar and Outlook send their own: the iCalendar object
is a `text/calendar; method=...` alternative beside the text and the HTML (what Outlook and
Gmail read to show Accept/Decline), and again as an `invite.ics` attachment of type
`application/ics` for clients that only look at attachments — that type, so no client
processes the same invitation twice.

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain
    │   ├── text/html
    │   └── text/calendar; method=REQUEST
    └── application/ics  (invite.ics)

Error translation: a refused recipient or message with a 5xx reply is `DeliveryRejected`;
everything else (connection refused, timeouts, TLS, authentication, our sender refused,
4xx replies) is `DeliveryUnavailable` — the message is fine, the system must be fixed or be
back, and then it goes out.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

from slotwise.domain.notifications import DeliveryRejected, DeliveryUnavailable, Email

IDEMPOTENCY_HEADER = "X-Slotwise-Idempotency-Key"
# Base64 or quoted-printable for anything not ASCII, so no server needs 8BITMIME.
_POLICY = SMTP.clone(cte_type="7bit")


class SmtpMailer:
    def __init__(self, host: str, port: int, *, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = False, use_ssl: bool = False,
                 timeout_s: float = 10, ssl_context: ssl.SSLContext | None = None) -> None:
        if starttls and use_ssl:
            raise ValueError("starttls or use_ssl (SMTPS is TLS from the first byte), not both")
        if (username is None) != (password is None):
            raise ValueError("username and password go together")
        Address(addr_spec=sender)  # a malformed sender is a configuration error: fail at start
        self._host, self._port = host, port
        self._sender = sender
        self._username, self._password = username, password
        self._starttls, self._use_ssl = starttls, use_ssl
        self._timeout_s = timeout_s
        self._ssl_context = ssl_context

    def send(self, email: Email, idempotency_key: str) -> None:
        try:
            message = mime_message(email, sender=self._sender, idempotency_key=idempotency_key)
        except ValueError as exc:  # HeaderParseError is one: a malformed recipient address
            raise DeliveryRejected(f"cannot build the message to {email.to!r}: {exc}") from exc
        smtp = self._connect()
        try:
            smtp.send_message(message, from_addr=self._sender, to_addrs=[email.to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _by_code(code, f"recipient refused: {code} {_text(reply)}") from exc
        except smtplib.SMTPSenderRefused as exc:
            # 552 at MAIL FROM is the message's size; any other refusal is our sender's.
            if exc.smtp_code == 552:
                raise DeliveryRejected(f"message refused: 552 {_text(exc.smtp_error)}",
                                       code="552") from exc
            raise DeliveryUnavailable(
                f"sender {self._sender} refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                code=str(exc.smtp_code)) from exc
        except smtplib.SMTPDataError as exc:
            raise _by_code(exc.smtp_code, f"message refused: {exc.smtp_code} "
                                          f"{_text(exc.smtp_error)}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            # e.g. a non-ASCII address to a server without SMTPUTF8: this message never will.
            raise DeliveryRejected(f"server cannot take this message: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryUnavailable(f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}",
                                      code=str(exc.smtp_code)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # The connection broke mid-transaction: the server may have queued it already.
            raise DeliveryUnavailable(f"SMTP connection lost: {exc!r}", maybe_sent=True
                                      ) from exc
        finally:
            _close(smtp)

    def _connect(self) -> smtplib.SMTP:
        """A connected, greeted, secured and logged-in session, or `DeliveryUnavailable`.
        Nothing is sent yet, so a failure here never leaves a copy behind."""
        where = f"SMTP {self._host}:{self._port}"
        smtp: smtplib.SMTP
        try:
            if self._use_ssl:
                smtp = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout_s,
                                        context=self._context())
            else:
                smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout_s)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryUnavailable(f"{where}: {exc!r}") from exc
        try:
            smtp.ehlo()
            if self._starttls:
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self._username is not None and self._password is not None:
                smtp.login(self._username, self._password)
        except smtplib.SMTPResponseException as exc:
            _close(smtp)
            raise DeliveryUnavailable(f"{where}: {exc.smtp_code} {_text(exc.smtp_error)}",
                                      code=str(exc.smtp_code)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            _close(smtp)
            raise DeliveryUnavailable(f"{where}: {exc!r}") from exc
        return smtp

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()


def mime_message(email: Email, *, sender: str, idempotency_key: str) -> EmailMessage:
    """The MIME message `SmtpMailer` sends (layout in the module docstring).

    `email.headers` are applied last. Without a Message-ID among them, one is derived from
    the idempotency key, so a retried send carries the same id.
    """
    message = EmailMessage(policy=_POLICY)
    message["From"] = Address(display_name=_one_line(email.from_name), addr_spec=sender)
    message["To"] = Address(display_name=_one_line(email.to_name), addr_spec=email.to)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = _one_line(email.subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = _message_id(idempotency_key, sender)
    message[IDEMPOTENCY_HEADER] = idempotency_key
    # RFC 3834: an automatic message; out-of-office responders should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    for name, value in email.headers.items():
        del message[name]
        message[name] = value

    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    calendars, others = [], []
    for attachment in email.attachments:
        maintype, _, rest = attachment.mime_type.partition("/")
        subtype, *params = (part.strip() for part in rest.split(";"))
        if (maintype.lower(), subtype.lower()) == ("text", "calendar"):
            calendars.append((attachment, _param(params, "method")))
        else:
            others.append((attachment, maintype, subtype))
    # Alternatives first: once an attachment makes the message multipart/mixed, no more can
    # join the multipart/alternative.
    for attachment, method in calendars:
        message.add_alternative(attachment.content.decode(), subtype="calendar", cte="base64")
        if method:
            # Unquoted, as Google Calendar and Exchange write it; some clients match it
            # against the METHOD inside literally.
            *_, part = message.iter_parts()
            del part["Content-Type"]
            # set_raw: the policy would quote the value again.
            part.set_raw("Content-Type", f'text/calendar; charset="utf-8"; method={method}')
    for attachment, _method in calendars:
        message.add_attachment(attachment.content, maintype="application", subtype="ics",
                               filename=attachment.filename)
    for attachment, maintype, subtype in others:
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                               filename=attachment.filename)
    return message


def _by_code(code: int, detail: str) -> DeliveryRejected | DeliveryUnavailable:
    if 500 <= code < 600:
        return DeliveryRejected(detail, code=str(code))
    return DeliveryUnavailable(detail, code=str(code))


def _message_id(idempotency_key: str, sender: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "slotwise.invalid"
    return f"<{digest}@{domain}>"


def _param(params: list[str], name: str) -> str | None:
    for param in params:
        key, _, value = param.partition("=")
        value = value.strip().strip('"')
        if key.strip().lower() == name and value.isalpha():  # an iTIP method is a token
            return value.upper()
    return None


def _one_line(text: str) -> str:
    # A header value may not contain a line break (and a customer's name might).
    return " ".join(text.splitlines()).strip()


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()

