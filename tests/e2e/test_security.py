"""Attacks on the HTTP surface: cross-site writes, sessions, login throttling, headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from orderhub.app import create_app
from orderhub.core.clock import utcnow
from orderhub.platform.auth import service as auth
from orderhub.platform.auth import sessions
from orderhub.platform.auth.store import login_failures
from orderhub.platform.settings import Settings

ORDER = (
    '{"currency": "EUR", "customer": {"email": "evil@example.com"},'
    ' "lines": [{"sku": "A", "quantity": 1, "unit_price": "1.00"}]}'
)
FOREIGN = {"Origin": "https://evil.example", "Referer": "https://evil.example/page"}


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def log_in(client: TestClient, email: str, password: str = "secret-pw") -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False
    )


@pytest.fixture
def browser(engine: Engine) -> Iterator[TestClient]:
    """A console user's browser: a session cookie and no API key (no secret configured)."""
    auth.create_user(engine, email="admin@shop.test", name="Admin", role="admin", password="secret-pw")
    with TestClient(create_app(Settings(env="test"), engine=engine)) as c:
        yield c


# -- 1. cross-site writes through the API ----------------------------------------------------
@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
def test_a_cookie_only_api_write_from_another_origin_changes_nothing(browser, engine, content_type):
    assert log_in(browser, "admin@shop.test").status_code == 303
    assert browser.get("/api/v1/me").json()["email"] == "admin@shop.test"  # reading is harmless
    r = browser.post("/api/v1/orders", content=ORDER, headers={"Content-Type": content_type, **FOREIGN})
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "csrf"
    r = browser.post("/api/v1/inventory/positions", content="[]", headers={"Content-Type": content_type})
    assert r.status_code == 403
    assert count(engine, "orders") == 0 and count(engine, "outbox") == 0


def test_an_api_write_with_the_session_needs_its_csrf_token_and_json(browser, engine):
    log_in(browser, "admin@shop.test")
    token = csrf_of(browser.get("/console/jobs").text)
    r = browser.post("/api/v1/orders", content=ORDER, headers={"Content-Type": "text/plain", "X-CSRF-Token": token})
    assert r.status_code == 403 and count(engine, "orders") == 0
    r = browser.post(
        "/api/v1/orders", content=ORDER, headers={"Content-Type": "application/json", "X-CSRF-Token": token}
    )
    assert r.status_code == 201 and count(engine, "orders") == 1


def test_without_a_session_the_api_answers_401_and_writes_nothing(browser, engine):
    r = browser.post("/api/v1/orders", content=ORDER, headers={"Content-Type": "text/plain", **FOREIGN})
    assert r.status_code == 401 and count(engine, "orders") == 0


# -- 2. one secret for every process ---------------------------------------------------------
def test_two_app_instances_without_a_secret_accept_each_others_session(engine):
    auth.create_user(engine, email="op@shop.test", name="Op", role="operator", password="secret-pw")
    with (
        TestClient(create_app(Settings(env="dev"), engine=engine)) as one,
        TestClient(create_app(Settings(env="dev"), engine=engine)) as two,
    ):
        assert log_in(one, "op@shop.test").status_code == 303
        two.cookies.update(one.cookies)
        r = two.get("/console/jobs", follow_redirects=False)
        assert r.status_code == 200 and "op@shop.test" in r.text
    assert count(engine, "app_secrets") == 1


def test_production_refuses_a_missing_secret():
    with pytest.raises(ValueError, match="ORDERHUB_SECRET_KEY"):
        Settings(env="production", secret_key="")


# -- 3. logout and expiry end the session ----------------------------------------------------
def test_a_cookie_replayed_after_logout_logs_nobody_in(browser):
    log_in(browser, "admin@shop.test")
    old_cookie = browser.cookies.get("orderhub_session")
    token = csrf_of(browser.get("/console/jobs").text)
    assert browser.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    browser.cookies.clear()
    browser.cookies.set("orderhub_session", old_cookie)
    r = browser.get("/console/jobs", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/console/jobs"
    assert browser.get("/api/v1/me").status_code == 401


def test_logout_and_login_need_the_forms_token(browser, engine):
    log_in(browser, "admin@shop.test")
    assert browser.post("/logout", follow_redirects=False).status_code == 403
    assert browser.get("/console/jobs", follow_redirects=False).status_code == 200  # still logged in
    browser.cookies.clear()
    r = browser.post("/login", data={"email": "admin@shop.test", "password": "secret-pw"}, follow_redirects=False)
    assert r.status_code == 403 and "reload and retry" in r.text
    assert count(engine, "sessions") == 1


def test_an_expired_session_logs_nobody_in(browser, engine):
    log_in(browser, "admin@shop.test")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sessions SET expires_at = created_at"))
    assert browser.get("/console/jobs", follow_redirects=False).status_code == 303


# -- 4. login throttling ---------------------------------------------------------------------
def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(browser, engine):
    for _ in range(sessions.MAX_FAILURES):
        assert log_in(browser, "admin@shop.test", "wrong-pw").status_code == 401
    r = log_in(browser, "admin@shop.test")
    assert r.status_code == 429 and "too many attempts, try again in 15 minutes" in r.text
    assert int(r.headers["retry-after"]) > 14 * 60
    assert count(engine, "sessions") == 0
    # another worker process sees the same count
    with TestClient(create_app(Settings(env="test"), engine=engine)) as other:
        assert log_in(other, "admin@shop.test").status_code == 429
    with engine.begin() as conn:  # the window passes
        conn.execute(sa.update(login_failures).values(window_start=utcnow() - timedelta(minutes=16)))
    assert log_in(browser, "admin@shop.test").status_code == 303


def test_a_success_resets_the_accounts_count(browser, engine):
    for _ in range(sessions.MAX_FAILURES - 1):
        log_in(browser, "admin@shop.test", "wrong-pw")
    assert log_in(browser, "admin@shop.test").status_code == 303
    with engine.connect() as conn:
        keys = conn.execute(sa.text("SELECT key FROM login_failures")).scalars().all()
    assert keys == ["addr:testclient"]


# -- 5. headers ------------------------------------------------------------------------------
def test_every_response_carries_the_security_headers(browser):
    for path in ("/login", "/healthz", "/api/v1/orders", "/static/console.css"):
        r = browser.get(path)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
        assert "script-src 'self';" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    browser.cookies.clear()
    assert "secure" not in browser.get("/login").headers["set-cookie"].lower()  # plain HTTP in test


def test_cookies_are_secure_over_https(engine):
    with TestClient(create_app(Settings(env="test"), engine=engine), base_url="https://hub.example") as c:
        r = c.get("/login")
        assert r.headers["set-cookie"].lower().endswith("; secure")
        assert r.headers["strict-transport-security"] == "max-age=31536000"


def test_prune_drops_long_ended_sessions_and_passed_failure_windows(browser, engine):
    log_in(browser, "admin@shop.test")
    log_in(browser, "admin@shop.test", "wrong-pw")
    assert sessions.prune(engine) == {"sessions": 0, "login_failures": 0}
    later = utcnow() + timedelta(days=2)
    assert sessions.prune(engine, now=later) == {"sessions": 1, "login_failures": 2}
    assert count(engine, "sessions") == 0 and count(engine, "login_failures") == 0
