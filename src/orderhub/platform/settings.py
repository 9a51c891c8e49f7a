"""Settings, built once at start-up from ``ORDERHUB_*`` environment variables and passed in."""

from __future__ import annotations

from typing import Literal

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
    points_per_kg: int = 20  # reward points per kg CO2e a greener delivery saves
    # request body limits in bytes (docs/limits.md): larger bodies are answered 413
    max_body_bytes: int = Field(default=1 << 20, ge=1024)  # every route not named below
    max_order_body_bytes: int = Field(default=1 << 20, ge=1024)  # order capture, canonical and channels
    max_batch_body_bytes: int = Field(default=16 << 20, ge=1024)  # inventory position reports
    max_factor_table_body_bytes: int = Field(default=16 << 20, ge=1024)  # carbon factor tables

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
