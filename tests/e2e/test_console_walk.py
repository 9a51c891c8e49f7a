"""A walk of every console page as every role (issue 16, "done when").

A small demo world is loaded (14 days of history, the rules, nodes, items and the channel
samples). Then, logged in as each role, a real Chromium follows every same-origin link from the
dashboard outward, breadth first, and records:

- any response with status >= 400 — the page itself, its htmx fragments, scripts, styles;
- any JavaScript error (``pageerror``) and any ``console.error``;
- any failed request, except ``net::ERR_ABORTED`` (a request the browser dropped because the
  walk navigated away, e.g. an open server-sent-events stream).

A link a role may not use must not be shown to it, so a 403 found on the walk is a defect too.
Links that change state are never GET routes here; the walk follows anchors only. Pages of the
same shape (``/console/orders/{id}``) are sampled: at most ``PER_SHAPE`` of each.
"""

from __future__ import annotations

import re
import shutil
from collections import deque
from datetime import UTC, datetime
from urllib.parse import urldefrag, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from orderhub.demo import seed
from orderhub.platform.db import create_db_engine
from orderhub.platform.settings import Settings
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser

ROLES = ("viewer", "operator", "editor", "publisher", "admin")
PER_SHAPE = 2
PER_SHAPE_OF = {"/console/orders/{id}": 6}  # order pages differ most (lines, states, parcels)
MAX_PAGES = 400
SKIP = ("/logout", "/api/", "/static/", "/favicon", "/healthz", "/metrics")
_WORD = re.compile(r"[a-z][a-z-]*")  # a fixed path word (``audit``, ``pick-list``); anything else is an id


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("walk") / "demo.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    seed(engine, days=14, seed=11, today=datetime.now(UTC).date())
    with LiveServer(engine, Settings(env="test", bootstrap_admin_key="walk-admin-key")) as server:
        yield server
    engine.dispose()


def shape(path: str) -> str:
    """``/console/nodes/DC-NORTH/pick-list`` -> ``/console/nodes/{id}/pick-list``."""
    return "/".join(seg if i < 3 or _WORD.fullmatch(seg) else "{id}" for i, seg in enumerate(path.split("/")))


def wanted(url: str, origin: str) -> str | None:
    url, _ = urldefrag(url)
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != origin:
        return None
    if not (parts.path.startswith("/console") or parts.path.startswith("/track/")):
        return None
    if parts.path.startswith(SKIP):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.mark.parametrize("role", ROLES)
def test_every_page_as_every_role_has_no_error(page, world, role):
    origin = world.url
    problems: list[str] = []
    current = {"url": ""}
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.request.method} {r.url} (on {current['url']})")
            if r.status >= 400 and r.url.startswith(origin)
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"JS error on {current['url']}: {e}"))
    page.on(
        "console",
        lambda m: problems.append(f"console.error on {current['url']}: {m.text}") if m.type == "error" else None,
    )
    page.on(
        "requestfailed",
        lambda r: (
            problems.append(f"failed {r.url} ({r.failure}) on {current['url']}")
            if "ERR_ABORTED" not in (r.failure or "")
            else None
        ),
    )

    page.goto(f"{origin}/login?next=/console")
    page.fill("#email", f"{role}@demo.orderhub")
    page.fill("#password", "demo")
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    seen: set[str] = set()
    per_shape: dict[str, int] = {}
    queue: deque[str] = deque(["/console"])
    visited = 0
    while queue and visited < MAX_PAGES:
        target = queue.popleft()
        if target in seen:
            continue
        seen.add(target)
        key = shape(target.split("?")[0]) + ("?" if "?" in target else "")
        if per_shape.get(key, 0) >= PER_SHAPE_OF.get(key, PER_SHAPE):
            continue
        per_shape[key] = per_shape.get(key, 0) + 1
        current["url"] = target
        if re.search(r"\.(csv|json|svg|pdf|txt)$", target.split("?")[0]) or "format=csv" in target:
            fetched = page.request.get(origin + target)  # a download: fetched with the session, not shown
            if fetched.status >= 400:
                problems.append(f"{fetched.status} GET {target} (a download link)")
            visited += 1
            continue
        response = page.goto(origin + target, wait_until="load")
        visited += 1
        assert response is not None, target
        try:  # let htmx fragments load; a page with a live stream never goes idle
            page.wait_for_load_state("networkidle", timeout=4_000)
        except PlaywrightTimeout:
            pass
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        for href in hrefs:
            found = wanted(href, origin)
            if found and found not in seen:
                queue.append(found)
    page.goto("about:blank")
    print(f"\nwalk as {role}: {visited} pages, {len(per_shape)} shapes: {sorted(per_shape)}")
    assert visited >= 15, f"the walk reached only {visited} pages as {role}: {sorted(seen)}"
    assert not problems, f"{len(problems)} problems as {role}:\n" + "\n".join(dict.fromkeys(problems))
