"""The schema. Every table carries `org_id`; every repository query filters on it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from slotwise.store.types import Instant

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _org(index: bool = True) -> Column[str]:
    """The tenant column; ``index=False`` where a composite index already leads with it."""
    return Column("org_id", String(40), ForeignKey("organisations.id"), nullable=False,
                  index=index)


def _rule_columns() -> list[Column[object]]:
    """Rules a location sets for every resource there (None: no rule of its own)."""
    return [
        Column("buffer_before_min", Integer, nullable=False, server_default="0"),
        Column("buffer_after_min", Integer, nullable=False, server_default="0"),
        Column("requires_approval", Boolean, nullable=False, server_default=false()),
        Column("min_notice_min", Integer),
        Column("max_advance_days", Integer),
        Column("max_per_day", Integer),
        Column("max_per_week", Integer),
    ]


organisations = Table(
    "organisations", metadata,
    Column("id", String(40), primary_key=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_at", Instant, nullable=False),
    # Raised by triggers on every catalog change (migration 0004); keys the catalog cache.
    Column("catalog_version", BigInteger, nullable=False, server_default="0"),
)

users = Table(
    "users", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("email", String(320), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Instant, nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("hint", String(16), nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("revoked_at", Instant),
)

auth_sessions = Table(
    "auth_sessions", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Instant, nullable=False),
    Column("expires_at", Instant, nullable=False),
)

locations = Table(
    "locations", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_at", Instant, nullable=False),
    *_rule_columns(),
    Column("cancellation_policy", JSON),  # engine.policies' full form; None: none of its own
)

location_schedules = Table(
    "location_schedules", metadata,
    Column("location_id", String(40), ForeignKey("locations.id"), primary_key=True),
    _org(),
    Column("timezone", String(64)),
    Column("weekly", JSON, nullable=False),
    Column("breaks", JSON, nullable=False),
    Column("overrides", JSON, nullable=False),
    Column("updated_at", Instant, nullable=False),
)

resources = Table(
    "resources", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("location_id", String(40), ForeignKey("locations.id")),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("buffer_before_min", Integer, nullable=False),
    Column("buffer_after_min", Integer, nullable=False),
    Column("requires_approval", Boolean, nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("archived_at", Instant),
    Column("min_notice_min", Integer),
    Column("max_advance_days", Integer),
    Column("max_per_day", Integer),
    Column("max_per_week", Integer),
    Column("deposit", JSON),
    Column("cancellation_policy", JSON),
)

schedules = Table(
    "schedules", metadata,
    Column("resource_id", String(40), ForeignKey("resources.id"), primary_key=True),
    _org(),
    Column("timezone", String(64)),
    Column("weekly", JSON, nullable=False),
    Column("updated_at", Instant, nullable=False),
    Column("breaks", JSON, nullable=False, server_default="[]"),
)

schedule_overrides = Table(
    "schedule_overrides", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _org(),
    Column("resource_id", String(40), ForeignKey("resources.id"), nullable=False),
    Column("day", String(10), nullable=False),
    Column("closed", Boolean, nullable=False),
    Column("hours", JSON, nullable=False),
    Index("ix_schedule_overrides_resource_day", "resource_id", "day"),
)

blocks = Table(
    "blocks", metadata,
    Column("id", String(40), primary_key=True),
    _org(index=False),
    Column("resource_id", String(40), ForeignKey("resources.id"), nullable=False),
    Column("start_at", Instant, nullable=False),
    Column("end_at", Instant, nullable=False),
    Column("title", String(500)),
    Column("created_at", Instant, nullable=False),
    # Set on busy time imported from an external calendar: the connection and the event's key
    # (`UID` or `UID#recurrence-id`). Such blocks change only by sync.
    # (No foreign key: SQLite cannot add one to an existing table; deleting a connection deletes
    # its blocks in the same transaction.)
    Column("connection_id", String(40)),
    Column("external_key", String(1024)),
    # Busy time in a window: see migration 0003 for why the range's end comes first.
    Index("ix_blocks_window", "org_id", "resource_id", "end_at", "start_at"),
    Index("uq_blocks_external", "connection_id", "external_key", unique=True),
)

services = Table(
    "services", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("name", String(200), nullable=False),
    Column("slug", String(100), nullable=False),
    Column("duration_min", Integer, nullable=False),
    Column("step_min", Integer, nullable=False),
    Column("buffer_before_min", Integer, nullable=False),
    Column("buffer_after_min", Integer, nullable=False),
    Column("min_notice_min", Integer, nullable=False),
    Column("max_advance_days", Integer, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("price_amount", BigInteger),
    Column("price_currency", String(3)),
    Column("created_at", Instant, nullable=False),
    Column("archived_at", Instant),
    Column("requires_approval", Boolean, nullable=False, server_default=false()),
    Column("max_per_day", Integer),
    Column("max_per_week", Integer),
    # None: in person; else the meeting provider that makes each booking's link
    Column("meeting_provider", String(32)),
    # a customer with this many no-shows books only with a person's approval
    Column("approval_after_no_shows", Integer),
    Column("payment", String(16), nullable=False, server_default="none"),
    Column("deposit", JSON),
    Column("cancellation_policy", JSON),
    # {reminders_min, review_after_min, sms}; None: the defaults (domain NotificationSchedule)
    Column("notifications", JSON),
    UniqueConstraint("org_id", "slug", name="uq_services_org_slug"),
)

# "A service may not come within N minutes after/before/either side of another's booking":
# looked up from both sides, so it is its own table indexed on both services.
sequence_rules = Table(
    "sequence_rules", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _org(),
    Column("service_id", String(40), ForeignKey("services.id"), nullable=False, index=True),
    Column("other_service_id", String(40), ForeignKey("services.id"), nullable=False,
           index=True),
    Column("position", Integer, nullable=False),
    Column("within_min", Integer, nullable=False),
    Column("direction", String(8), nullable=False),
)

service_requirements = Table(
    "service_requirements", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _org(),
    Column("service_id", String(40), ForeignKey("services.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("count", Integer, nullable=False),
    Column("resource_ids", JSON),
    Column("tags", JSON, nullable=False),
    Column("min_capacity", Integer, nullable=False),
    Column("optional", Boolean, nullable=False, server_default=false()),
    Column("mode", String(8), nullable=False, server_default="any"),
    Column("weights", JSON, nullable=False, server_default="{}"),
)

customers = Table(
    "customers", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("phone", String(40)),
    Column("timezone", String(64)),
    Column("locale", String(16)),
    Column("no_shows", Integer, nullable=False, server_default="0"),
    UniqueConstraint("org_id", "email", name="uq_customers_org_email"),
)

series = Table(
    "series", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("rrule", Text, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("dtstart_local", String(19), nullable=False),
    Column("created_at", Instant, nullable=False),
)

bookings = Table(
    "bookings", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("service_id", String(40), ForeignKey("services.id"), nullable=False),
    Column("customer_id", String(40), ForeignKey("customers.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_at", Instant, nullable=False),
    Column("end_at", Instant, nullable=False),
    Column("resource_ids", JSON, nullable=False),
    Column("series_id", String(40), ForeignKey("series.id")),
    Column("notes", Text),
    Column("cancel_reason", Text),
    Column("manage_token_hash", String(64)),
    Column("created_at", Instant, nullable=False),
    Column("updated_at", Instant, nullable=False),
    Column("awaiting", JSON, nullable=False, server_default="[]"),
    Column("pending_until", Instant),
    Column("meeting", JSON),
    Column("sequence", Integer, nullable=False, server_default="0"),
    Column("failure_reason", Text),
    Index("ix_bookings_org_start", "org_id", "start_at", "id"),
    Index("ix_bookings_updated_at", "updated_at"),
    Index("ix_bookings_pending_until", "pending_until",
          sqlite_where=text("pending_until IS NOT NULL"),
          postgresql_where=text("pending_until IS NOT NULL")),
)

# The overlap guard lives on this table (see the migration): PostgreSQL excludes overlapping
# active ranges per resource; SQLite aborts such inserts and updates in triggers.
allocations = Table(
    "allocations", metadata,
    Column("id", String(40), primary_key=True),
    _org(index=False),
    Column("booking_id", String(40), ForeignKey("bookings.id"), nullable=False, index=True),
    Column("resource_id", String(40), ForeignKey("resources.id"), nullable=False),
    # Allocations of one session (a group service's seats at one start) may overlap each
    # other; allocations of different sessions never may.
    Column("session_key", String(80), nullable=False),
    Column("blocked_start", BigInteger, nullable=False),
    Column("blocked_end", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False),
    Index("ix_allocations_window", "org_id", "resource_id", "blocked_end", "blocked_start"),
)

holds = Table(
    "holds", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("service_id", String(40), ForeignKey("services.id"), nullable=False),
    Column("start_at", Instant, nullable=False),
    Column("end_at", Instant, nullable=False),
    Column("expires_at", Instant, nullable=False),
    Column("status", String(16), nullable=False),
    Column("booking_id", String(40)),
    Column("created_at", Instant, nullable=False),
)

held_resources = Table(
    "held_resources", metadata,
    Column("hold_id", String(40), ForeignKey("holds.id"), primary_key=True),
    Column("resource_id", String(40), ForeignKey("resources.id"), primary_key=True),
    _org(index=False),
    Column("blocked_start", BigInteger, nullable=False),
    Column("blocked_end", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("live", Boolean, nullable=False),
    Index("ix_held_resources_window", "org_id", "resource_id", "blocked_end", "blocked_start"),
)

idempotency_records = Table(
    "idempotency_records", metadata,
    Column("scope", String(80), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("route", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),
    Column("body", LargeBinary),
    Column("content_type", String(100)),
    Column("created_at", Instant, nullable=False),
)

outbox = Table(
    "outbox", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    _org(),
    Column("type", String(64), nullable=False),
    Column("aggregate_id", String(40), nullable=False, index=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("published_at", Instant),
)
Index("ix_outbox_unpublished", outbox.c.seq, sqlite_where=outbox.c.published_at.is_(None),
      postgresql_where=outbox.c.published_at.is_(None))

# The embedded job queue (SQLite). On PostgreSQL procrastinate's own tables hold the jobs.
jobs = Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", String(40), index=True),  # None: the system's own (periodic) jobs
    Column("task", String(100), nullable=False),
    Column("args", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("scheduled_at", Instant, nullable=False),
    Column("started_at", Instant),
    Column("finished_at", Instant),
    Column("created_at", Instant, nullable=False),
    Index("ix_jobs_due", "state", "scheduled_at"),
)

# Why attempts failed, for either engine (procrastinate keeps only that they did).
job_errors = Table(
    "job_errors", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(40), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("at", Instant, nullable=False),
    Column("error", Text, nullable=False),
)

# Append-only; each entry's hash covers the previous one's, per chain (an organisation, or
# "system"), so a changed or removed entry shows.
audit_log = Table(
    "audit_log", metadata,
    Column("id", String(40), primary_key=True),
    Column("chain", String(48), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("org_id", String(40), index=True),
    Column("at", Instant, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(80), nullable=False),
    Column("details", JSON, nullable=False),
    Column("undo", JSON),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("chain", "seq", name="uq_audit_log_chain_seq"),
)

waitlist_entries = Table(
    "waitlist_entries", metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(40), ForeignKey("organisations.id"), nullable=False),
    Column("service_id", String(40), ForeignKey("services.id"), nullable=False),
    Column("customer_id", String(40), ForeignKey("customers.id"), nullable=False),
    Column("range_start", Instant, nullable=False),
    Column("range_end", Instant, nullable=False),
    Column("resource_ids", JSON),
    Column("state", String(16), nullable=False),
    Column("offer_start", Instant),
    Column("offer_hold_id", String(40)),
    Column("offer_token_hash", String(64)),
    Column("offer_expires_at", Instant),
    Column("booking_id", String(40)),
    # Place in line: wall-clock microseconds at joining (a frozen app clock would tie).
    Column("line", BigInteger, nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("updated_at", Instant, nullable=False),
    Index("ix_waitlist_entries_service", "org_id", "service_id", "state", "line"),
)

# A booking's payment through a gateway (migration 0008). `external_id` is the gateway's id,
# unknown until the payments.create job has started the payment.
payments = Table(
    "payments", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("booking_id", String(40), ForeignKey("bookings.id"), nullable=False, unique=True),
    Column("gateway", String(32), nullable=False),
    Column("external_id", String(255)),
    Column("kind", String(16), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(32), nullable=False),
    Column("refunded_minor", BigInteger, nullable=False, server_default="0"),
    Column("client_secret", String(255)),
    Column("data", JSON, nullable=False),
    Column("last_event_at", Instant),
    Column("created_at", Instant, nullable=False),
    Column("updated_at", Instant, nullable=False),
    UniqueConstraint("gateway", "external_id", name="uq_payments_gateway_external_id"),
)

refunds = Table(
    "refunds", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("payment_id", String(40), ForeignKey("payments.id"), nullable=False, index=True),
    Column("booking_id", String(40), ForeignKey("bookings.id"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(32), nullable=False),
    # the gateway's idempotency key: one refund per decision, however often it is retried
    Column("key", String(255), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("external_id", String(255)),
    Column("error", Text),
    Column("created_at", Instant, nullable=False),
    Column("updated_at", Instant, nullable=False),
)

# Webhook events already applied: a redelivery finds its id here and changes nothing.
payment_events = Table(
    "payment_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _org(),
    Column("gateway", String(32), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("type", String(100), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("created", Instant, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("received_at", Instant, nullable=False),
    UniqueConstraint("gateway", "event_id", name="uq_payment_events_gateway_event_id"),
)

fees = Table(
    "fees", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _org(),
    Column("booking_id", String(40), ForeignKey("bookings.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("due_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", Instant, nullable=False),
    UniqueConstraint("booking_id", "kind", name="uq_fees_booking_id"),
)

# Every message to a customer (migration 0009); `dedupe_key` makes each one go out once.
messages = Table(
    "messages", metadata,
    Column("id", String(40), primary_key=True),
    _org(index=False),
    Column("booking_id", String(40), nullable=False),  # or a waitlist entry's, a connection's
    Column("kind", String(32), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("due_at", Instant, nullable=False),
    Column("state", String(16), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("dedupe_key", String(200), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claim_token", String(40)),
    Column("provider_id", String(100)),
    Column("sent_at", Instant),
    Column("last_error", Text),
    Column("created_at", Instant, nullable=False),
    UniqueConstraint("dedupe_key", name="uq_messages_dedupe_key"),
    Index("ix_messages_booking", "org_id", "booking_id"),
    Index("ix_messages_due", "state", "due_at"),
)

webhook_endpoints = Table(
    "webhook_endpoints", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("url", String(2048), nullable=False),
    Column("secret", String(100), nullable=False),  # signs deliveries: kept, not hashed
    Column("events", JSON, nullable=False),
    Column("description", String(500)),
    Column("active", Boolean, nullable=False),
    Column("created_at", Instant, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # the log's order
    Column("id", String(40), nullable=False, unique=True),
    _org(index=False),
    Column("endpoint_id", String(40), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", String(40), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("event_created_at", Instant, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("log", JSON, nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("delivered_at", Instant),
    UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
    Index("ix_webhook_deliveries_endpoint", "org_id", "endpoint_id", "seq"),
)


# One external calendar tied to one resource (domain/calendars.py). `credentials` are secret
# (passwords, OAuth tokens) and never leave the server.
calendar_connections = Table(
    "calendar_connections", metadata,
    Column("id", String(40), primary_key=True),
    _org(),
    Column("resource_id", String(40), ForeignKey("resources.id"), nullable=False),
    Column("provider", String(20), nullable=False),
    Column("calendar_id", String(2048), nullable=False),
    Column("name", String(200)),
    Column("config", JSON, nullable=False),
    Column("credentials", JSON, nullable=False),
    Column("import_busy", Boolean, nullable=False),
    Column("export_bookings", Boolean, nullable=False),
    Column("poll_s", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("sync_token", Text),
    # Bumped by every applied sync: a sync whose changes were fetched against an older
    # generation is dropped (another one applied them already), so no lock spans the fetch.
    Column("generation", Integer, nullable=False, server_default="0"),
    Column("last_sync_at", Instant),
    Column("last_success_at", Instant),
    Column("last_full_at", Instant),
    Column("last_error", String(1000)),
    Column("last_error_at", Instant),
    Column("failures", Integer, nullable=False, server_default="0"),
    # A push notification sets it (if unset) and defers one sync for then: the debounce.
    Column("sync_due_at", Instant),
    Column("channel_id", String(200), unique=True),
    Column("channel", JSON),
    Column("created_at", Instant, nullable=False),
    Column("updated_at", Instant, nullable=False),
)

# The event each connection holds for each booking it exported.
calendar_exports = Table(
    "calendar_exports", metadata,
    Column("connection_id", String(40), ForeignKey("calendar_connections.id"),
           primary_key=True),
    Column("booking_id", String(40), ForeignKey("bookings.id"), primary_key=True),
    _org(index=False),
    Column("external_id", String(2048), nullable=False),
    Column("etag", String(500)),
    Column("data", JSON, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("updated_at", Instant, nullable=False),
    Index("ix_calendar_exports_booking", "org_id", "booking_id"),
)

# A resource's private ICS feed; the token is a bearer secret, stored hashed.
calendar_feeds = Table(
    "calendar_feeds", metadata,
    Column("id", String(40), primary_key=True),
    _org(index=False),
    Column("resource_id", String(40), ForeignKey("resources.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Instant, nullable=False),
    Column("revoked_at", Instant),
    Index("ix_calendar_feeds_resource", "org_id", "resource_id"),
)

# Bookings something landed on (migration 0012). At most one open conflict per (booking,
# resource, cause_ref): a partial unique index, which SQLite and PostgreSQL both enforce.
conflicts = Table(
    "conflicts", metadata,
    Column("id", String(40), primary_key=True),
    _org(index=False),
    Column("booking_id", String(40), ForeignKey("bookings.id"), nullable=False),
    Column("resource_id", String(40), ForeignKey("resources.id"), nullable=False),
    Column("cause", String(16), nullable=False),
    Column("cause_ref", String(64), nullable=False),
    Column("start_at", Instant, nullable=False),
    Column("end_at", Instant, nullable=False),
    Column("status", String(16), nullable=False),
    Column("resolution", JSON),
    Column("created_at", Instant, nullable=False),
    Column("updated_at", Instant, nullable=False),
    Column("closed_at", Instant),
    Index("ix_conflicts_list", "org_id", "status", "start_at", "id"),
    Index("ix_conflicts_booking", "org_id", "booking_id"),
    Index("ix_conflicts_resource", "org_id", "resource_id", "status"),
    Index("uq_conflicts_open", "booking_id", "resource_id", "cause_ref", unique=True,
          sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
)
