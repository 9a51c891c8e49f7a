"""Schema fuzzing (schemathesis) of every operation of the OpenAPI, against a live server on
SQLite and on PostgreSQL: no answer may be a 5xx, and every answer must keep to what the
document declares for its operation (status code, content type, body, headers).

Derandomized with a fixed seed and bounded to ``EXAMPLES`` generated cases per operation and
phase, so a run is the same every time and takes about half a minute per database (see
docs/security.md, "Schema fuzzing"). ``ORDERHUB_FUZZ_EXAMPLES`` and ``ORDERHUB_FUZZ_SEED`` widen
or move the search for a longer run by hand.

The server runs with ``run_bus=False``: the fuzzer creates webhook subscriptions to whatever
URL it makes up, and the bus worker would deliver events to them (traffic to addresses that
are not ours). Nothing else is excluded: the API has no operation that ends the caller's
session or rotates its key (those are console-only), and every write the fuzzer makes lands in
a database of its own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
import sqlalchemy as sa
from schemathesis import Case, checks
from schemathesis.generation import GenerationMode
from sqlalchemy import Engine

from orderhub.app import create_app
from orderhub.platform.db import create_db_engine
from orderhub.platform.settings import Settings
from tests.conftest import make_pg_engine, put_stock
from tests.e2e.conftest import LiveServer

KEY = "fuzz-admin-key"
SEED = int(os.environ.get("ORDERHUB_FUZZ_SEED", "20261126"))
EXAMPLES = int(os.environ.get("ORDERHUB_FUZZ_EXAMPLES", "6"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


def _document() -> dict[str, Any]:
    """The OpenAPI document as the app builds it (the live server serves this very document:
    the fixture checks it)."""
    app = create_app(Settings(env="test"), engine=sa.create_engine("sqlite://"))
    return app.openapi()


DOCUMENT = _document()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
# every operation, one test each (on each database): pytest and xdist see them one by one
OPERATIONS = [pytest.param(m.upper(), p, id=f"{m.upper()} {p}") for p, ops in DOCUMENT["paths"].items() for m in ops]


def _live(engine: Engine) -> Iterator[str]:
    put_stock(engine, {("DC-1", "MUG-1"): 50, ("ST-9", "MUG-1"): 5})
    settings = Settings(env="test", bootstrap_admin_key=KEY, run_bus=False)
    with LiveServer(engine, settings) as server:
        assert requests.get(f"{server.url}/openapi.json", timeout=10).json() == DOCUMENT
        yield server.url
    engine.dispose()


@pytest.fixture(scope="module")
def sqlite_api(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    """A live server on a fresh SQLite database with a little stock."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    shutil.copy(sqlite_template, path)
    yield from _live(create_db_engine(f"sqlite:///{path}"))


@pytest.fixture(scope="module")
def postgres_api(pg_admin_url: str) -> Iterator[str]:
    """A live server on a fresh PostgreSQL database with a little stock."""
    yield from _live(make_pg_engine(pg_admin_url))


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def fuzz(base_url: str, session: requests.Session, method: str, path: str) -> None:
    """``EXAMPLES`` cases that fit the operation's schema and as many that break it, from a fixed
    seed; each answer is checked against what the document declares."""
    operation = SCHEMA[path][method]
    headers = {"Authorization": f"Bearer {KEY}"}
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @hypothesis.seed(SEED)
        @hypothesis.settings(
            max_examples=EXAMPLES,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink],
        )
        @hypothesis.given(case=operation.as_strategy(mode))
        def run(case: Case) -> None:
            case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=CHECKS)

        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            # nothing of this operation can be made invalid (no body, no constrained parameter)
            if mode is GenerationMode.POSITIVE:
                raise


@pytest.mark.xdist_group("fuzz-sqlite")
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_fuzz_on_sqlite(method: str, path: str, sqlite_api: str, session: requests.Session) -> None:
    fuzz(sqlite_api, session, method, path)


@pytest.mark.postgres
@pytest.mark.xdist_group("fuzz-postgres")
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_fuzz_on_postgres(method: str, path: str, postgres_api: str, session: requests.Session) -> None:
    fuzz(postgres_api, session, method, path)
