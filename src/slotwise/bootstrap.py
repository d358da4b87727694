"""The composition root: settings in, wired use cases out (for the API, CLI and tests).

Nothing connects to anything at import time; `build()` does it, once per process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import redis
import redis.asyncio
from sqlalchemy import Engine, text

from slotwise.app.accounts import Accounts
from slotwise.app.availability import SearchAvailability
from slotwise.app.bookings import BookSlot
from slotwise.app.calendar_connections import ConnectCalendars
from slotwise.app.calendar_export import CalendarExporter, CalendarExportReactor
from slotwise.app.calendar_sync import CalendarSync
from slotwise.app.cancellation import CancellationTerms
from slotwise.app.catalog import Catalog
from slotwise.app.clock import FrozenClock, SystemClock
from slotwise.app.conflict_resolution import OperateConflicts
from slotwise.app.conflicts import ConflictDetector
from slotwise.app.container import Dependency, UseCases
from slotwise.app.explain import ExplainAvailability
from slotwise.app.fixer import Fixer
from slotwise.app.health import HealthChecks
from slotwise.app.holds import ExtendHold, OperateHolds, PlaceHold, ReleaseHold
from slotwise.app.idempotency import Idempotency
from slotwise.app.jobs import OperateJobs
from slotwise.app.lifecycle import ApprovalGate, Gates, Lifecycle
from slotwise.app.live import LiveReactor, LiveUpdates
from slotwise.app.manage import CancelBooking, ReadBookings, RescheduleBooking
from slotwise.app.meetings import MeetingGate, MeetingLinks, MeetingProviders, MeetingReactor
from slotwise.app.notifications import Links, NotificationReactor, Notifications
from slotwise.app.payments import PaymentGate, PaymentReactor, Payments
from slotwise.app.recurrence import PreviewRecurrence
from slotwise.app.relay import RelayOutbox
from slotwise.app.rush import RushRefusals
from slotwise.app.waitlist import OperateWaitlist, WaitlistReactor
from slotwise.app.webhooks import OperateWebhooks, WebhookReactor
from slotwise.domain.calendars import (
    CalendarConnection,
    CalendarProvider,
    CalendarProviderFactory,
    OAuthClient,
)
from slotwise.domain.live import LiveBus
from slotwise.domain.meetings import MeetingProvider
from slotwise.domain.payments import PaymentGateway
from slotwise.domain.ports import Clock
from slotwise.holds.fallback import CircuitBreaker, RedisHoldsFactory
from slotwise.holds.redis import AsyncLiveHolds, RedisHoldStore
from slotwise.holds.sql import SqlHoldStore
from slotwise.integrations.calendars.caldav import CalDavCalendar
from slotwise.integrations.calendars.google import GoogleCalendar
from slotwise.integrations.calendars.ics import render_events
from slotwise.integrations.calendars.ics_subscription import IcsSubscription
from slotwise.integrations.calendars.microsoft import MicrosoftCalendar
from slotwise.integrations.calendars.oauth import GoogleOAuth, MicrosoftOAuth
from slotwise.integrations.email import SmtpMailer
from slotwise.integrations.live import InProcessLiveBus, PostgresLiveBus, RedisLiveBus
from slotwise.integrations.meetings import HttpMeetings, JitsiMeetings
from slotwise.integrations.messages import TemplateMessages
from slotwise.integrations.passwords import Argon2Hasher
from slotwise.integrations.payments.on_site import PayOnSite
from slotwise.integrations.payments.stripe import StripeGateway
from slotwise.integrations.sms import TwilioSms
from slotwise.integrations.webhooks import HttpWebhookPoster
from slotwise.queues.embedded import EmbeddedWorker
from slotwise.queues.procrastinate import ProcrastinateWorker
from slotwise.settings import Settings
from slotwise.store.database import make_engine
from slotwise.store.idempotency import SqlIdempotencyStore
from slotwise.store.migrate import upgrade
from slotwise.store.rush_reads import PostgresRushReads
from slotwise.store.uow import HoldsFactory, SqlUnitOfWorkFactory
from slotwise.worker.tasks import registry


@dataclass
class Readiness:
    """Checks behind /readyz: each returns None when healthy, or what is wrong."""

    engine: Engine
    redis_url: str | None

    def database(self) -> str | None:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return None

    def redis(self) -> str | None:
        if self.redis_url is None:
            return None
        try:
            client = redis.Redis.from_url(self.redis_url, socket_timeout=1,
                                          socket_connect_timeout=1)
            client.ping()
            client.close()
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return None


Worker = EmbeddedWorker | ProcrastinateWorker
SaveCredentials = Callable[[dict[str, Any]], None]


def _key(settings: Settings, purpose: str) -> bytes:
    """A key of its own per purpose, derived from the one configured secret."""
    secret = settings.secret_key.get_secret_value().encode()
    return hashlib.sha256(secret + b"\x00" + purpose.encode()).digest()


@dataclass
class Container:
    """The use cases plus what this process owns and must close."""

    settings: Settings
    engine: Engine
    use_cases: UseCases
    uow: SqlUnitOfWorkFactory
    redis: redis.Redis | None = None
    worker: Worker | None = None
    meeting_providers: MeetingProviders = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)  # adapters' own clean-up

    def make_worker(self) -> Worker:
        """This process's job engine: embedded on SQLite, procrastinate on PostgreSQL."""
        jobs = registry(self.use_cases, max_attempts=self.settings.job_max_attempts,
                        backoff_s=self.settings.job_backoff_s,
                        settle_after=timedelta(minutes=self.settings.settle_after_min),
                        calendar_tick_s=self.settings.calendar_tick_s)
        if self.settings.is_sqlite:
            return EmbeddedWorker(self.uow, jobs)
        return ProcrastinateWorker(self.settings.database_url, self.uow, jobs,
                                   concurrency=self.settings.worker_concurrency)

    def start_jobs(self) -> Worker:
        """Run the jobs in background threads of this process (embedded mode)."""
        self.worker = self.make_worker()
        self.worker.start()
        return self.worker

    def start_live(self) -> None:
        """Start this process's one live-update listener (server processes)."""
        self.use_cases.live.start()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.use_cases.live.stop()
        for close in self.closers:
            close()
        self.engine.dispose()
        if self.redis is not None:
            self.redis.close()
        for close in self.closers:
            close()


def meeting_providers(settings: Settings) -> dict[str, MeetingProvider]:
    """The meeting providers services may name: Jitsi always, the HTTP API when configured."""
    providers: dict[str, MeetingProvider] = {
        "jitsi": JitsiMeetings(settings.meeting_jitsi_base_url)}
    if settings.meeting_http_base_url is not None and settings.meeting_http_token is not None:
        providers["http"] = HttpMeetings(settings.meeting_http_base_url,
                                         settings.meeting_http_token.get_secret_value())
    return providers


@dataclass
class _Calendars:
    adapters: dict[str, CalendarProviderFactory]
    oauth: dict[str, OAuthClient]
    closers: list[Callable[[], None]]


def _calendars(settings: Settings) -> _Calendars:
    """The calendar providers connections may use, by name: CalDAV and ICS always; Google
    and Microsoft when their OAuth client is configured. A provider is built per sync from
    the connection; HTTP clients are shared, one per process."""
    timeout = settings.calendar_timeout_s
    http = httpx.Client(timeout=timeout, follow_redirects=True)

    def zone(connection: CalendarConnection) -> str | None:
        value = connection.config.get("timezone")
        return value if isinstance(value, str) else None

    def caldav(connection: CalendarConnection, save: SaveCredentials) -> CalendarProvider:
        return CalDavCalendar(connection.calendar_id, connection.config.get("username") or "",
                              connection.credentials.get("password") or "",
                              connection.config.get("email"), timeout_s=timeout,
                              default_zone=zone(connection))

    def ics(connection: CalendarConnection, save: SaveCredentials) -> CalendarProvider:
        return IcsSubscription(connection.calendar_id, connection.config.get("email"),
                               timeout_s=timeout, default_zone=zone(connection), client=http)

    adapters: dict[str, CalendarProviderFactory] = {"caldav": caldav, "ics": ics}
    oauth: dict[str, OAuthClient] = {}
    if settings.google_client_id and settings.google_client_secret:
        google_id = settings.google_client_id
        google_secret = settings.google_client_secret.get_secret_value()

        def google(connection: CalendarConnection, save: SaveCredentials) -> CalendarProvider:
            return GoogleCalendar(connection.credentials, google_id, google_secret, save,
                                  token_uri=settings.google_token_uri, timeout_s=timeout)

        adapters["google"] = google
        oauth["google"] = GoogleOAuth(google_id, google_secret,
                                      auth_url=settings.google_auth_uri,
                                      token_url=settings.google_token_uri, client=http,
                                      timeout_s=timeout)
    if settings.microsoft_client_id and settings.microsoft_client_secret:
        ms_id = settings.microsoft_client_id
        ms_secret = settings.microsoft_client_secret.get_secret_value()
        authority = settings.microsoft_login_base_url.rstrip("/")
        token_url = f"{authority}/{settings.microsoft_tenant}/oauth2/v2.0/token"

        def microsoft(connection: CalendarConnection, save: SaveCredentials
                      ) -> CalendarProvider:
            return MicrosoftCalendar(connection.credentials, ms_id, ms_secret, save,
                                     tenant=settings.microsoft_tenant,
                                     graph_url=settings.microsoft_graph_base_url,
                                     token_url=token_url, timezone=zone(connection),
                                     client=http, timeout_s=timeout)

        adapters["microsoft"] = microsoft
        oauth["microsoft"] = MicrosoftOAuth(ms_id, ms_secret, tenant=settings.microsoft_tenant,
                                            authority=authority, client=http,
                                            timeout_s=timeout)
    return _Calendars(adapters, oauth, [http.close])


def build(settings: Settings, *, migrate: bool = False, clock: Clock | None = None,
          calendar_providers: Mapping[str, CalendarProviderFactory] | None = None
          ) -> Container:
    """`calendar_providers` adds to (or replaces) the configured calendar adapters: tests
    plug in fakes this way."""
    engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
    if migrate:
        upgrade(engine)
    if clock is None:
        clock = FrozenClock(settings.now) if settings.now is not None else SystemClock()
    holds: HoldsFactory = SqlHoldStore
    client = None
    breaker = CircuitBreaker()  # shared by the units of work and the rush lane's reads
    if settings.redis_url is not None:
        # Short timeouts: an unreachable Redis costs one of them per breaker cooldown, after
        # which holds fall back to SQL (holds/fallback.py).
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=settings.redis_timeout_s,
                                      socket_connect_timeout=settings.redis_timeout_s)
        holds = RedisHoldsFactory(RedisHoldStore(client, settings.redis_key_prefix), breaker)
    uow = SqlUnitOfWorkFactory(engine, holds)
    search = SearchAvailability(uow, clock)
    readiness = Readiness(engine, settings.redis_url)
    checks = {"database": Dependency(readiness.database)}
    if settings.redis_url is not None:
        checks["redis"] = Dependency(readiness.redis,
                                     fallback="holds are kept in the database meanwhile")
    health = HealthChecks(uow)
    later = "bookings are taken; confirmations, links and messages follow late"
    checks["jobs"] = Dependency(health.jobs, fallback=later)
    checks["outbox"] = Dependency(health.outbox, fallback=later)
    checks["integrations"] = Dependency(health.integrations,
                                        fallback="GET /v1/jobs?state=failed lists what failed")
    providers = meeting_providers(settings)
    link_deadline = timedelta(seconds=settings.meeting_link_deadline_s)
    stripe = _stripe(settings)
    on_site = PayOnSite()
    gateways: dict[str, PaymentGateway] = {on_site.name: on_site}
    if stripe is not None:
        gateways[stripe.name] = stripe
    payment_gate = PaymentGate(stripe, on_site, timedelta(seconds=settings.payment_deadline_s))
    cancellation = CancellationTerms(uow, clock)
    place_hold = PlaceHold(uow, clock, search, settings.hold_ttl_s)
    release_hold = ReleaseHold(uow, clock)
    book = BookSlot(uow, clock, search,
                    gates=Gates([ApprovalGate(), payment_gate, MeetingGate(link_deadline)]),
                    token_key=_key(settings, "manage-token"))
    closers = [p.close for p in providers.values() if isinstance(p, HttpMeetings)]
    if stripe is not None:
        closers.append(stripe.close)
    waitlist = OperateWaitlist(uow, clock, search, place_hold, release_hold, book,
                               _key(settings, "waitlist-offer"),
                               offer_ttl_s=settings.waitlist_offer_ttl_s)
    detector = ConflictDetector()
    messaging = _messaging(settings, uow, clock, Links(settings.public_base_url,
                                                       book.manage_token, waitlist.offer_token))
    calendars = _calendars(settings)
    live = LiveUpdates(uow, live_bus(settings))
    calendar_sync = CalendarSync(
        uow, clock, {**calendars.adapters, **(calendar_providers or {})},
        window_days=settings.calendar_window_days,
        debounce_s=settings.calendar_debounce_ms / 1000,
        full_every=timedelta(seconds=settings.calendar_full_sync_s),
        push_base_url=settings.calendar_push_base_url,
        on_busy_changed=detector.busy_imported)
    checks["calendars"] = Dependency(
        calendar_sync.health, fallback="the last good busy time of each calendar is kept")
    use_cases = UseCases(
        clock=clock,
        accounts=Accounts(uow, clock,
                          Argon2Hasher(settings.password_hash_time_cost,
                                       settings.password_hash_memory_kib),
                          timedelta(seconds=settings.session_lifetime_s)),
        catalog=Catalog(uow, clock, meeting_providers=providers.keys(),
                        online_payments=stripe is not None, conflicts=detector),
        search=search,
        explain=ExplainAvailability(uow, clock),
        preview_recurrence=PreviewRecurrence(uow, clock),
        place_hold=place_hold,
        release_hold=release_hold,
        extend_hold=ExtendHold(uow, clock),
        holds=OperateHolds(uow, clock, release_hold),
        book=book,
        cancel=CancelBooking(uow, clock, cancellation),
        reschedule=RescheduleBooking(uow, clock, search),
        lifecycle=Lifecycle(uow, clock, on_no_show=cancellation.no_show),
        meetings=MeetingLinks(uow, clock, providers, link_deadline),
        bookings=ReadBookings(uow, ics_renderer=lambda events, name, revised: render_events(
            events, name=name, dtstamp=revised)),
        idempotency=Idempotency(SqlIdempotencyStore(engine), clock),
        jobs=OperateJobs(uow, clock),
        relay=RelayOutbox(uow, clock, reactors=[PaymentReactor(), MeetingReactor(),
                                                WaitlistReactor(), NotificationReactor(),
                                                WebhookReactor(),
                                                CalendarExportReactor()],
                         after_commit=[LiveReactor(live.bus)]),
        fixer=Fixer(uow, clock, stuck_after=timedelta(seconds=settings.stuck_job_after_s)),
        waitlist=waitlist,
        health=health,
        payments=Payments(uow, clock, gateways),
        cancellation=cancellation,
        notifications=messaging.notifications,
        webhooks=messaging.webhooks,
        calendar_sync=calendar_sync,
        calendar_export=CalendarExporter(uow, clock, calendar_sync),
        calendars=ConnectCalendars(uow, clock, calendar_sync,
                                   state_key=_key(settings, "calendar-oauth-state"),
                                   oauth=calendars.oauth,
                                   feed_renderer=lambda events, name, revised: render_events(
                                       events, name=name, dtstamp=revised),
                                   min_poll_s=settings.calendar_min_poll_s),
        conflicts=OperateConflicts(uow, clock, waitlist, detector),
        live=live,
        rush=_rush_lane(settings, uow, clock, search, breaker),
        cursor_secret=hashlib.sha256(settings.secret_key.get_secret_value().encode()).digest(),
        checks=checks,
    )
    return Container(settings=settings, engine=engine, use_cases=use_cases, uow=uow,
                     redis=client, meeting_providers=providers,
                     closers=[*closers, *messaging.closers, *calendars.closers])


def _rush_lane(settings: Settings, uow: SqlUnitOfWorkFactory, clock: Clock,
               search: SearchAvailability, breaker: CircuitBreaker) -> RushRefusals | None:
    """The rush lane on PostgreSQL (its reads are async psycopg); None on SQLite, where one
    writer at a time leaves it nothing to win."""
    if not settings.rush_lane or not settings.database_url.startswith("postgresql"):
        return None
    redis_holds = None
    if settings.redis_url is not None:
        redis_holds = AsyncLiveHolds(redis.asyncio.Redis.from_url(
            settings.redis_url, socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s), settings.redis_key_prefix)
    return RushRefusals(uow, clock, search,
                        PostgresRushReads(settings.database_url, redis_holds, breaker))


def live_bus(settings: Settings) -> LiveBus:
    """Live-update fan-out across processes: Redis pub/sub when Redis is configured, else
    PostgreSQL LISTEN/NOTIFY; on SQLite (one process) in-process."""
    if settings.redis_url is not None:
        return RedisLiveBus(settings.redis_url, settings.redis_key_prefix,
                            timeout_s=settings.redis_timeout_s)
    if not settings.is_sqlite:
        return PostgresLiveBus(settings.database_url, f"{settings.redis_key_prefix}_live")
    return InProcessLiveBus()


def _stripe(settings: Settings) -> StripeGateway | None:
    if settings.stripe_api_key is None or settings.stripe_webhook_secret is None:
        return None
    return StripeGateway(settings.stripe_api_key.get_secret_value(),
                         settings.stripe_webhook_secret.get_secret_value(),
                         api_base=settings.stripe_api_base)


@dataclass
class _Messaging:
    notifications: Notifications
    webhooks: OperateWebhooks
    closers: list[Callable[[], None]]


def _messaging(settings: Settings, uow: SqlUnitOfWorkFactory, clock: Clock,
               links: Links) -> _Messaging:
    """E-mail over SMTP when `smtp_host` is set and SMS over Twilio when its settings are;
    without them messages are still rendered, and recorded as `skipped`."""
    mailer = None
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        mailer = SmtpMailer(settings.smtp_host, settings.smtp_port, sender=settings.mail_from,
                            username=settings.smtp_username, password=password,
                            starttls=settings.smtp_starttls, use_ssl=settings.smtp_ssl)
    closers: list[Callable[[], None]] = []
    sms = None
    if (settings.twilio_account_sid and settings.twilio_auth_token
            and settings.twilio_from):
        sms = TwilioSms(settings.twilio_account_sid,
                        settings.twilio_auth_token.get_secret_value(), settings.twilio_from,
                        api_base=settings.twilio_api_base)
        closers.append(sms.close)
    # Signatures carry the wall clock's time: subscribers check them against theirs.
    poster = HttpWebhookPoster(timeout_s=settings.webhook_timeout_s)
    closers.append(poster.close)
    notifications = Notifications(uow, clock, TemplateMessages(clock), links, mailer=mailer,
                                  sms=sms, org_email=settings.mail_from,
                                  max_attempts=settings.job_max_attempts)
    webhooks = OperateWebhooks(uow, clock, poster, max_attempts=settings.job_max_attempts)
    return _Messaging(notifications, webhooks, closers)
