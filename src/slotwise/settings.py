"""One settings object, read once from the environment (`SLOTWISE_` prefix) and passed down."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'slotwise.db'}"


DEVELOPMENT_SECRET_KEY = "change-me-in-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLOTWISE_", env_file=".env", extra="ignore")

    # storage
    database_url: str = Field(default_factory=_default_database_url)
    database_pool_size: int = 10
    # threads per server process for the routes that use the database: more threads only
    # fight over the GIL, and every hand-over costs CPU (anyio's 40: p99 ~1.5 s at 64 clients
    # in bench/stress.py; 8 spent a fifth more CPU per request than 2-4)
    request_threads: int = Field(default=4, ge=1, le=256)
    # PostgreSQL only: refuse a rush's taken starts from async reads before the request cycle
    # (app/rush.py); off, every attempt takes the full path
    rush_lane: bool = True
    redis_url: str | None = None  # unset: holds live in the database
    redis_timeout_s: float = Field(default=0.5, gt=0)
    redis_key_prefix: str = "slotwise"  # lets deployments (and test runs) share one Redis

    # time: a pinned "now" for demos and tests; unset, the real clock runs
    now: AwareDatetime | None = None

    # security
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    session_lifetime_s: int = Field(default=14 * 24 * 3600, ge=60)
    # Argon2id cost (RFC 9106's second recommended option by default); tests lower it
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=1024)

    # booking
    hold_ttl_s: int = Field(default=600, ge=1, le=1800)
    # how long a waitlist offer holds its slot for the customer it is offered to
    waitlist_offer_ttl_s: int = Field(default=900, ge=60, le=1800)
    # the rule after the end: confirmed bookings are marked completed this long after it
    settle_after_min: int = Field(default=120, ge=0, le=7 * 24 * 60)

    # jobs: "embedded" runs them inside `slotwise serve`; "external" leaves them to
    # `slotwise worker` processes (PostgreSQL only)
    jobs: Literal["embedded", "external"] = "embedded"
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    job_max_attempts: int = Field(default=8, ge=1, le=50)
    # a `doing` job whose worker has not been seen this long is put back to work (fixer)
    stuck_job_after_s: int = Field(default=120, ge=5, le=24 * 3600)
    job_backoff_s: int = Field(default=2, ge=1, le=60)  # attempt n waits backoff_s ** n

    # meeting links of online services: a booking waits this long for its link, then fails
    # closed; "jitsi" needs no account; "http" is a Zoom-shaped API (https://api.zoom.us/v2),
    # offered to services only when its base URL and token are set
    meeting_link_deadline_s: int = Field(default=900, ge=10, le=24 * 3600)
    meeting_jitsi_base_url: str = "https://meet.jit.si"
    meeting_http_base_url: str | None = None
    meeting_http_token: SecretStr | None = None
    # payments: Stripe when a key is set (with its webhook signing secret); unset, only paying
    # at the venue works. `stripe_api_base` points the client elsewhere (a local fake).
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None
    # how long a booking waits for its online payment before it fails closed
    payment_deadline_s: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    # notifications: without `smtp_host` e-mails are rendered and recorded as `skipped`;
    # SMS go out through Twilio when its three settings are given
    public_base_url: str = "http://127.0.0.1:8000"  # where customers' links in messages point
    mail_from: str = "bookings@localhost"  # the sender, and the organizer in invitations
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False  # SMTPS: TLS from the first byte (port 465)
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None  # E.164
    twilio_api_base: str = "https://api.twilio.com"
    webhook_timeout_s: float = Field(default=5, gt=0, le=60)

    # calendars: busy time is imported this far ahead; a connection is polled every
    # `poll_s` (its own, default below); a full reconciliation runs this often; push
    # notifications are debounced this long. Push needs a public HTTPS base URL
    # (`calendar_push_base_url`, unset: no push, polling only).
    calendar_window_days: int = Field(default=365, ge=7, le=3 * 365)
    calendar_poll_s: int = Field(default=60, ge=1, le=86_400)
    calendar_min_poll_s: int = Field(default=15, ge=1, le=3600)
    calendar_tick_s: int = Field(default=5, ge=1, le=300)  # how often due polls are looked for
    calendar_full_sync_s: int = Field(default=6 * 3600, ge=60, le=7 * 86_400)
    calendar_debounce_ms: int = Field(default=500, ge=0, le=60_000)
    calendar_timeout_s: float = Field(default=10, gt=0, le=120)
    calendar_push_base_url: str | None = None
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_auth_uri: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_uri: str = "https://oauth2.googleapis.com/token"
    microsoft_client_id: str | None = None
    microsoft_client_secret: SecretStr | None = None
    microsoft_tenant: str = "common"
    microsoft_login_base_url: str = "https://login.microsoftonline.com"
    microsoft_graph_base_url: str = "https://graph.microsoft.com/v1.0"

    # operations
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        # Accept plain postgresql:// URLs and use psycopg 3 for them.
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @model_validator(mode="after")
    def _meeting_http_needs_a_token(self) -> Settings:
        if self.meeting_http_base_url is not None and self.meeting_http_token is None:
            raise ValueError("SLOTWISE_MEETING_HTTP_TOKEN is required with "
                             "SLOTWISE_MEETING_HTTP_BASE_URL")
        return self

    @model_validator(mode="after")
    def _stripe_needs_its_webhook_secret(self) -> Settings:
        if self.stripe_api_key is not None and self.stripe_webhook_secret is None:
            raise ValueError("SLOTWISE_STRIPE_WEBHOOK_SECRET is required with "
                             "SLOTWISE_STRIPE_API_KEY (webhooks could never be verified)")
        return self

    @model_validator(mode="after")
    def _check_twilio(self) -> Settings:
        given = [self.twilio_account_sid, self.twilio_auth_token, self.twilio_from]
        if any(v is not None for v in given) and any(v is None for v in given):
            raise ValueError("SMS needs SLOTWISE_TWILIO_ACCOUNT_SID, SLOTWISE_TWILIO_AUTH_TOKEN "
                             "and SLOTWISE_TWILIO_FROM together")
        return self

    @property
    def uses_development_secret(self) -> bool:
        """Whether the secret is the published default: anyone could then derive the keys
        that sign list cursors, manage links, waitlist offers and calendar sign-in state."""
        return self.secret_key.get_secret_value() == DEVELOPMENT_SECRET_KEY

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
