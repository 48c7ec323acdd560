"""All configuration in one place: environment variables prefixed ``KOPDES_``, or flags."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from matcher.scoring import NO_OVERLAP_BOUND, SUGGESTION_THRESHOLD


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KOPDES_", env_file=".env", extra="ignore")

    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server(s), comma-separated")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: a SQLite file in the data folder"
    )
    data_dir: Path = Field(Path("data"), description="SQLite file, embedded NATS storage, logs")

    # Database connections (docs/production.md: "Connection pooling").
    db_pool_size: int = Field(10, ge=1, description="PostgreSQL connections kept open per process")
    db_max_overflow: int = Field(
        10, ge=0, description="extra PostgreSQL connections opened under load, closed after"
    )
    db_pool_timeout_seconds: float = Field(
        30.0, gt=0, description="how long a caller waits for a free pooled connection"
    )
    db_pool_recycle_seconds: int = Field(
        1800, description="replace PostgreSQL connections older than this (-1: never)"
    )
    db_connect_timeout_seconds: int = Field(
        10, ge=1, description="give up connecting to PostgreSQL after this long (then retry)"
    )
    db_start_timeout_seconds: float = Field(
        60.0, ge=0, description="at start, wait this long for an unreachable PostgreSQL"
    )
    db_busy_timeout_seconds: float = Field(
        30.0, ge=0, description="SQLite: how long a writer waits for another's lock"
    )

    # Input limits and delivery.
    max_payload_bytes: int = Field(256 * 1024, description="larger inputs are dead-lettered")
    max_deliver: int = Field(5, description="deliveries of one input before it is dead-lettered")
    retry_delay_seconds: float = Field(2.0, description="delay before a failed input is retried")
    ack_wait_seconds: float = 30.0
    batch_size: int = Field(200, description="messages a pull consumer fetches at once")
    pull_timeout_seconds: float = Field(
        0.05, description="how long notify's consumer waits to fill a batch of decisions"
    )
    max_deliver_outage: int = Field(
        10_000, description="JetStream's own bound on deliveries, for database outages"
    )
    duplicate_window_seconds: float = Field(
        900.0, description="JetStream de-duplication window by Nats-Msg-Id"
    )
    stream_replicas: int = Field(1, description="JetStream stream replicas (3 on a cluster)")

    # Matching.
    suggestions_per_province: int = Field(
        20, ge=1, description="an offer's best cooperatives suggested in each province it covers"
    )
    offers_per_cooperative: int = Field(
        3, ge=0, description="a cooperative's best offers suggested to it, whatever their reach"
    )
    min_score: float = Field(
        SUGGESTION_THRESHOLD,
        ge=NO_OVERLAP_BOUND,  # below it the candidate index would miss pairs (docs/matcher.md)
        description="pairs scoring lower are not suggested",
    )
    material_score_change: float = Field(
        5.0, description="a suggestion is published again when its score moves this much"
    )
    matcher_provinces: str = Field(
        "",
        description="provinces this matcher process owns, comma-separated codes (e.g. "
        "'31,32,33'); empty: share all provinces with the other matcher processes",
    )
    expiry_check_seconds: float = 60.0
    outbox_poll_seconds: float = 1.0

    # Coordinator review dashboard and API (services/review).
    web_host: str = Field("127.0.0.1", description="address the review dashboard listens on")
    web_port: int = Field(8000, description="port of the review dashboard and API")
    secret_key: SecretStr | None = Field(
        None, description="signs session cookies; default: generated once into the data folder"
    )
    cookie_secure: bool = Field(False, description="send the session cookie over HTTPS only")
    session_max_age_seconds: int = Field(12 * 3600, description="a login lasts this long")
    login_max_failures: int = Field(5, description="failed logins per username+IP per window")
    login_window_seconds: int = Field(15 * 60, description="window of the login rate limit")

    # Operations.
    log_format: Literal["rich", "json"] = Field(
        "rich", description="rich: for a terminal; json: one object a line, for a log pipeline"
    )
    metrics_port: int = Field(
        9100, description="port of /healthz, /readyz and /metrics; 0 disables"
    )
    metrics_host: str = Field(
        "127.0.0.1", description="address the metrics port listens on (0.0.0.0 in the image)"
    )
    lag_refresh_seconds: float = Field(
        15.0, description="how often the consumer lag gauges are read from JetStream"
    )
    stall_seconds: float = Field(
        120.0,
        description="a consumer that delivers nothing this long while messages wait makes "
        "/readyz unready (longer than the longest retry delay, 60 s)",
    )
    embedded_fallback: bool = Field(
        True,
        description="`run` starts an embedded nats-server when none is reachable; "
        "false in production, where that would split the bus",
    )

    # Notifications and webhooks (services/notify).
    webhook_max_attempts: int = Field(8, description="webhook tries before a delivery is failed")
    webhook_base_delay_seconds: float = Field(
        2.0, description="first retry delay of a webhook; doubles per try, with full jitter"
    )
    webhook_max_delay_seconds: float = Field(600.0, description="longest delay between tries")
    webhook_timeout_seconds: float = Field(10.0, description="a receiver answers within this")
    webhook_poll_seconds: float = Field(1.0, description="how often the worker looks for work")
    webhook_concurrency: int = Field(16, description="webhook requests in flight at once")
    webhook_allowed_hosts: str = Field(
        "",
        description="comma-separated hosts webhooks may reach although they are (or resolve "
        "to) loopback or private addresses; every other internal address is refused",
    )
    reminder_after_days: float = Field(
        3.0,
        description="a suggestion pending this long reminds its coordinators once a period; 0: off",
    )
    notify_sweep_seconds: float = Field(
        60.0, description="how often reminders and closed approved offers are checked"
    )

    @cached_property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kopdes.db').resolve()}"

    @property
    def matcher_province_list(self) -> list[str]:
        return [p.strip() for p in self.matcher_provinces.split(",") if p.strip()]

    @property
    def webhook_hosts_allowed(self) -> frozenset[str]:
        return frozenset(h.strip() for h in self.webhook_allowed_hosts.split(",") if h.strip())

    @property
    def nats_servers(self) -> list[str]:
        return [s.strip() for s in self.nats_url.split(",") if s.strip()]
