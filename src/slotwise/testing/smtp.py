"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, on a port of its own.

    with SmtpSink() as sink:
        mailer = SmtpMailer(sink.host, sink.port, sender="bookings@example.com")
        mailer.send(email, "key-1")
        [message] = sink.wait_for(1)          # parsed email.message.EmailMessage
        sink.fail_next(550, "5.1.1 No such user")   # the next RCPT TO is refused

It speaks real SMTP (EHLO, MAIL, RCPT, DATA) over TCP, so the client code under test is the
code that runs in production. `messages` holds them parsed, `raw` as they came over the wire.
`credentials` turns on AUTH (PLAIN, LOGIN) without TLS (local only) and refuses MAIL from a session
that has not logged in. `stall_next_reply()` keeps the next message but withholds the server's
answer to it until `release()`: the sender cannot know it arrived (a crash window to test).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

Stage = Literal["mail", "rcpt", "data"]


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_tos: tuple[str, ...]


@dataclass(frozen=True)
class _Failure:
    stage: Stage
    reply: str


class _EphemeralController(Controller):
    """aiosmtpd's controller, bound to port 0: it learns the port the system gave it before
    connecting to itself (which is how aiosmtpd makes its lazy server start answering)."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        with socket.create_connection((self.hostname, self.port), timeout=1.0) as sock:
            sock.recv(1024)  # the 220 greeting


class SmtpSink:
    def __init__(self, *, credentials: tuple[str, str] | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.envelopes: list[Envelope] = []
        self._credentials = credentials
        self._failures: list[_Failure] = []
        self._stall_next = False
        self._released = threading.Event()
        self._changed = threading.Condition()
        self._controller: Any = None

    def __enter__(self) -> SmtpSink:
        options: dict[str, Any] = {}
        if self._credentials is not None:
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = _EphemeralController(
            _Handler(self), hostname=self.host, port=0, ready_timeout=10, **options)
        self._controller.start()
        self.port = self._controller.port
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._released.set()
        self._controller.stop()

    def fail_next(self, code: int, text: str = "Requested action not taken", *,
                  stage: Stage = "rcpt") -> None:
        """Answer the next MAIL FROM, RCPT TO or end of DATA with `code` (once)."""
        with self._changed:
            self._failures.append(_Failure(stage, f"{code} {text}"))

    def stall_next_reply(self) -> None:
        """Record the next message, then hold back the reply to its DATA until `release()`."""
        with self._changed:
            self._stall_next = True
            self._released.clear()

    def release(self) -> None:
        self._released.set()

    def wait_for(self, count: int, timeout_s: float = 5) -> list[EmailMessage]:
        """The first `count` messages received, waiting up to `timeout_s` for them."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self.messages)} of {count} messages after {timeout_s} s")
                self._changed.wait(left)
            return self.messages[:count]

    def _take_failure(self, stage: Stage) -> str | None:
        with self._changed:
            for failure in self._failures:
                if failure.stage == stage:
                    self._failures.remove(failure)
                    return failure.reply
        return None

    def _take_stall(self) -> bool:
        with self._changed:
            stall, self._stall_next = self._stall_next, False
            return stall

    def _record(self, envelope: Envelope, raw: bytes) -> None:
        message = BytesParser(policy=default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        with self._changed:
            self.messages.append(message)
            self.raw.append(raw)
            self.envelopes.append(envelope)
            self._changed.notify_all()

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and self._credentials is not None
              and (auth_data.login.decode(), auth_data.password.decode()) == self._credentials)
        return AuthResult(success=ok, handled=False)  # aiosmtpd then answers 235 or 535


class _Handler:
    """aiosmtpd's hooks: a failure injected for a stage answers instead of the default."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    # The hook names are aiosmtpd's.
    async def handle_MAIL(self, server: Any, session: Any, envelope: Any,  # noqa: N802
                          address: str, mail_options: list[str]) -> str:
        if self._sink._credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        failure = self._sink._take_failure("mail")
        if failure:
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any,  # noqa: N802
                          address: str, rcpt_options: list[str]) -> str:
        failure = self._sink._take_failure("rcpt")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any  # noqa: N802
                          ) -> str:
        failure = self._sink._take_failure("data")
        if failure:
            return failure
        raw = envelope.original_content or envelope.content
        self._sink._record(Envelope(envelope.mail_from, tuple(envelope.rcpt_tos)), raw)
        if self._sink._take_stall():
            await asyncio.get_running_loop().run_in_executor(None, self._sink._released.wait, 60)
        return "250 Message accepted for delivery"
