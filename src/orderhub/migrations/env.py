"""Alembic environment: runs against the engine handed in by ``orderhub.migrations``."""

from __future__ import annotations

from typing import Any

from alembic import context

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
from orderhub.platform.db import UtcDateTime, metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    """Migrations store plain timestamps; UtcDateTime is only how Python reads them."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
