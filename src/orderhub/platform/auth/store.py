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
