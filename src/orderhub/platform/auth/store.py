"""Tables for users and API keys."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.platform.db import UtcDateTime, metadata

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)


def get_user_by_email(conn: Connection, email: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(users).where(users.c.email == email)).mappings().first()
    return dict(row) if row else None


def get_user_by_key_hash(conn: Connection, key_hash: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            sa.select(users).join(api_keys, api_keys.c.user_id == users.c.id).where(api_keys.c.key_hash == key_hash)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def get_user(conn: Connection, user_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(users).where(users.c.id == user_id)).mappings().first()
    return dict(row) if row else None


def insert_user(conn: Connection, **values: Any) -> None:
    conn.execute(users.insert().values(**values))


def insert_api_key(conn: Connection, **values: Any) -> None:
    conn.execute(api_keys.insert().values(**values))


def list_users(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.select(users).order_by(users.c.email)).mappings()]


# Console sessions live on the server: the cookie carries only the session id, so logging out
# (or the absolute expiry) ends a session even if an old cookie is replayed.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
)

# Failed logins per account ("account:<email>") and per client address ("addr:<ip>"), in the
# database so that every worker process counts the same attempts.
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("window_start", UtcDateTime(), nullable=False),
)

# Secrets a deployment generates once and shares between its processes (the dev session key).
app_secrets = sa.Table(
    "app_secrets",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)
