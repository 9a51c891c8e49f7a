"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

import orderhub.app
import orderhub.carbon.store
import orderhub.edge.gateway_store
import orderhub.edge.store
import orderhub.forecast.guard_store
import orderhub.forecast.store
import orderhub.inventory.store
import orderhub.orders.aftersales_store
import orderhub.orders.listing
import orderhub.platform.jobs_store
import orderhub.platform.leases
import orderhub.rules.store
import orderhub.tracking.notify_store
import orderhub.tracking.store
import orderhub.webhooks.store  # noqa: F401
from orderhub.migrations import upgrade
from orderhub.platform.db import metadata


def test_migrated_schema_matches_the_metadata(engine: Engine) -> None:
    upgrade(engine)  # already at head: a no-op that must not fail
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff: list[Any] = compare_metadata(ctx, metadata)
    assert diff == []
