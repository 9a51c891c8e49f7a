"""Sourcing settings (the pilot scope)."""

from __future__ import annotations

import sqlalchemy as sa

from orderhub.platform.db import metadata

settings = sa.Table(
    "sourcing_settings",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
)
