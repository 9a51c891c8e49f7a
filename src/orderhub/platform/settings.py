"""Settings, built once at start-up from ``ORDERHUB_*`` environment variables and passed in."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev"}


class Settings(BaseSettings):
    """All of OrderHub's configuration. ``env=production`` refuses unsafe defaults."""

    model_config = SettingsConfigDict(env_prefix="ORDERHUB_", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    database_url: str = "sqlite:///./orderhub.db"
    secret_key: str = Field(default="", repr=False)
    bootstrap_admin_key: str | None = Field(default=None, repr=False)
    shopify_webhook_secret: str | None = Field(default=None, repr=False)
    woocommerce_webhook_secret: str | None = Field(default=None, repr=False)
    # inbound carrier webhooks (docs/tracking.md): EasyPost signs X-Hmac-Signature, AfterShip
    # aftership-hmac-sha256; without a secret the route takes an operator's API key only
    easypost_webhook_secret: str | None = Field(default=None, repr=False)
    aftership_webhook_secret: str | None = Field(default=None, repr=False)
    db_pool_size: int = 20  # kept open; as many again may open under bursts
    workers: int = 1  # API processes (`orderhub serve`); on PostgreSQL, one per core
    worker_threads: int = 4  # request threads per process (bench/inventory S1: fewer beat 40)
    session_max_age_s: int = 12 * 3600
    run_jobs: bool = True  # timers and the job runner run inside the API process
    job_interval_s: float = 0.25  # timer rounds; idle job runners poll the queue as often
    job_stale_after_s: float = 60.0  # a running job without a heartbeat this long is requeued
    bus_url: str = ""  # "" or "embedded": the database is the log; nats://host:4222[,nats://…]: JetStream
    run_bus: bool = True  # the relay and the subscribers run inside the API process (one holder each)
    bus_poll_s: float = 0.02  # how often an idle relay or subscriber looks for work from other processes
    # after a subscriber round that found work, gather this long before the next (the relay a
    # third of it): fewer, larger rounds under load, at most this much added latency
    bus_batch_gap_s: float = 0.015
    bus_subscribers: str = ""  # comma-separated subscribers this process runs ("" = every registered one)
    bus_stream: str = "ORDERHUB"  # the JetStream stream (subjects orderhub.>)
    bus_replicas: int = 1  # JetStream replicas of the stream (3 on a 3-node cluster)
    live_poll_s: float = 0.05  # live pages: how often a process looks for events published by another
    plugins: str = ""  # comma-separated modules whose register() adds subscribers or hooks at start-up
    # rules (docs/rules.md): one rule set's evaluation past this budget is set aside (its fallback decides)
    rules_budget_ms: float = Field(default=50.0, gt=0)
    # store protection (docs/forecast.md): sourcing weighs a store's expected local demand over the
    # next days, this much (EUR-equivalent) per unit an online order would leave without stock
    store_protection: bool = True
    store_protection_days: int = Field(default=2, ge=1, le=28)
    store_protection_weight: float = Field(default=5.0, ge=0)
    points_per_kg: int = 20  # reward points per kg CO2e a greener delivery saves
    # checkout delivery fees per currency (docs/carbon.md): "CUR:fee/free-from", comma-separated;
    # each entry replaces or adds to the shipped table (EUR 4.95/50.00, GBP 3.95/40.00, USD 5.95/50.00)
    delivery_fees: str = Field(default="", pattern=r"^\s*([A-Z]{3}:\d+(\.\d{1,2})?/\d+(\.\d{1,2})?\s*(,\s*|$))*$")
    edge_hub_key: str = Field(default="", repr=False)  # `orderhub edge`: an operator's API key at the hub
    # request body limits in bytes (docs/limits.md): larger bodies are answered 413
    max_body_bytes: int = Field(default=1 << 20, ge=1024)  # every route not named below
    max_order_body_bytes: int = Field(default=1 << 20, ge=1024)  # order capture, canonical and channels
    max_batch_body_bytes: int = Field(default=16 << 20, ge=1024)  # inventory position reports
    max_factor_table_body_bytes: int = Field(default=16 << 20, ge=1024)  # carbon factor tables

    # customer notifications (docs/tracking-notifications.md)
    public_url: str = "http://127.0.0.1:8000"  # the base of links sent to customers (/track/{token})
    # milestones that notify the customer (comma-separated Milestone values)
    notify_milestones: str = (
        "handed_to_carrier,out_for_delivery,delivered,delivery_attempted,available_for_pickup,exception"
    )
    # how customers are told (comma-separated): outbox (a table the console shows), smtp, sms, callback
    notify_channels: str = "outbox"
    notify_max_age_h: float = Field(default=48.0, gt=0)  # a milestone older than this is history: no message
    notify_max_attempts: int = Field(default=6, ge=1)  # tries of a network channel before it is failed
    notify_backoff_s: float = Field(default=60.0, ge=0)  # first retry wait; doubles each try (with jitter)
    notify_timeout_s: float = Field(default=10.0, gt=0)  # every SMTP / SMS / callback call
    notify_smtp_host: str = ""
    notify_smtp_port: int = 587
    notify_smtp_user: str = ""
    notify_smtp_password: str = Field(default="", repr=False)
    notify_smtp_from: str = ""
    notify_smtp_starttls: bool = True
    notify_sms_url: str = ""  # an HTTP SMS gateway: POST {"to", "text", "from"} with a bearer token
    notify_sms_token: str = Field(default="", repr=False)
    notify_sms_from: str = ""
    # per sales channel, where its callback goes: {"shopify": "https://…"}; signed like webhooks
    notify_channel_callbacks: dict[str, str] = Field(default_factory=dict)
    notify_callback_secret: str = Field(default="", repr=False)  # whsec_… (Standard Webhooks)

    @property
    def notify_milestone_list(self) -> list[str]:
        return [m.strip() for m in self.notify_milestones.split(",") if m.strip()]

    @property
    def notify_channel_list(self) -> list[str]:
        return [c.strip() for c in self.notify_channels.split(",") if c.strip()]

    @model_validator(mode="after")
    def _check_notifications(self) -> Settings:
        """A channel named must be usable: refuse at start rather than fail every message."""
        missing = {
            "smtp": not (self.notify_smtp_host and self.notify_smtp_from),
            "sms": not (self.notify_sms_url and self.notify_sms_token),
            "callback": not (self.notify_channel_callbacks and self.notify_callback_secret),
        }
        needs = {
            "smtp": "ORDERHUB_NOTIFY_SMTP_HOST and ORDERHUB_NOTIFY_SMTP_FROM",
            "sms": "ORDERHUB_NOTIFY_SMS_URL and ORDERHUB_NOTIFY_SMS_TOKEN",
            "callback": "ORDERHUB_NOTIFY_CHANNEL_CALLBACKS and ORDERHUB_NOTIFY_CALLBACK_SECRET",
        }
        for channel in self.notify_channel_list:
            if channel not in ("outbox", *missing):
                raise ValueError(f"ORDERHUB_NOTIFY_CHANNELS: unknown channel {channel!r} (outbox, smtp, sms, callback)")
            if missing.get(channel):
                raise ValueError(f"notification channel {channel!r} needs {needs[channel]}")
        for url in [self.public_url, self.notify_sms_url, *self.notify_channel_callbacks.values()]:
            if url and urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"not an http(s) URL: {url!r}")
        return self

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        if self.secret_key in PLACEHOLDER_SECRETS:
            if self.env == "production":
                raise ValueError("ORDERHUB_SECRET_KEY must be set to a real secret in production")
            # Dev and tests without a key: the app uses one generated once and kept in the
            # database, so every worker process (and a restart) signs sessions alike.
            self.secret_key = ""
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
