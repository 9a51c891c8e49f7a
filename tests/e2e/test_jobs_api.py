"""Jobs and schedules over HTTP and in the console: the app's own runner and timers do the work."""

from __future__ import annotations

import re
import threading
import time

from orderhub.core.clock import utcnow
from orderhub.core.ids import new_id
from orderhub.platform import jobs
from orderhub.platform.auth import service as auth
from orderhub.platform.db import create_db_engine
from orderhub.platform.jobs_store import jobs as jobs_table
from tests.conftest import finished_job, put_stock


def test_reoptimise_answers_202_with_the_job_and_the_app_runs_it(client, engine):
    put_stock(engine, {("DC-1", "A"): 5})
    accepted = client.post("/api/v1/sourcing/reoptimise", params={"limit": 50})
    assert accepted.status_code == 202
    body = accepted.json()
    assert accepted.headers["Location"] == f"/api/v1/jobs/{body['id']}" == body["links"]["self"]
    assert (body["kind"], body["params"]["limit"], body["created_by"]) == (
        "sourcing.reoptimise",
        50,
        "user:bootstrap-admin@orderhub.local",
    )
    assert body["status"] in ("queued", "running", "succeeded")
    job = finished_job(client, accepted)
    assert job["status"] == "succeeded" and job["attempts"] == 1 and job["error"] == ""
    assert {k: job["report"][k] for k in ("examined", "replanned")} == {"examined": 0, "replanned": 0}
    listed = client.get("/api/v1/jobs", params={"kind": "sourcing.reoptimise"}).json()
    assert [j["id"] for j in listed["items"]] == [body["id"]] and listed["next_cursor"] is None
    assert client.post(f"/api/v1/jobs/{body['id']}/cancel").status_code == 409  # already succeeded
    missing = client.get("/api/v1/jobs/job_nope")
    assert missing.status_code == 404 and missing.json()["code"] == "job_not_found"


def test_a_running_job_is_cancelled_through_the_api_and_viewers_may_not(client, engine, key_for):
    started = threading.Event()

    def run(_engine, params, progress):
        started.set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until cancelled
            progress(1, 2)
            time.sleep(0.05)
        return {"ran_out": True}

    jobs.register_kind("test.endless", run)
    job_id = jobs.submit(engine, "test.endless", {})
    assert started.wait(10)
    viewer = client.post(f"/api/v1/jobs/{job_id}/cancel", headers={"Authorization": f"Bearer {key_for('viewer')}"})
    assert viewer.status_code == 403 and jobs.get(engine, job_id).status == "running"
    assert client.post(f"/api/v1/jobs/{job_id}/cancel").json()["status"] == "cancelled"
    deadline = time.monotonic() + 10
    while jobs.get(engine, job_id).finished_at is None:
        assert time.monotonic() < deadline, "the runner did not stop"
        time.sleep(0.05)
    job = client.get(f"/api/v1/jobs/{job_id}").json()
    assert (job["status"], job["report"]) == ("cancelled", None)


def test_schedules_show_the_timers_runs(client):
    deadline = time.monotonic() + 10
    while True:
        rows = {r["name"]: r for r in client.get("/api/v1/schedules").json()["items"]}
        if rows.get("orders.expire-unpaid", {}).get("runs", 0) >= 2:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.1)
    assert set(rows) == {
        "orders.expire-unpaid",
        "inventory.cart-holds",
        "orders.consolidated-runs",
        "jobs.requeue-stale",
        "bus.prune",
        "auth.prune",
        "rules.approval-timeouts",
        "rules.timers",
    }
    assert rows["bus.prune"]["last_result"] == {"processed_ids": 0, "closed_failures": 0}
    assert rows["auth.prune"]["last_result"] == {"sessions": 0, "login_failures": 0}
    assert rows["rules.timers"]["last_result"] == {"fired": 0} and rows["rules.approval-timeouts"]["failures"] == 0
    assert rows["orders.consolidated-runs"]["interval_s"] == 60.0 and rows["orders.consolidated-runs"]["runs"] == 1
    assert (
        rows["orders.expire-unpaid"]["last_result"] == {"cancelled": []}
        and rows["inventory.cart-holds"]["failures"] == 0
    )


def test_console_progress_fragment_and_jobs_page_show_a_job_of_another_process(client, engine):
    # a job another process queued and its runner is halfway through
    other = create_db_engine(engine.url.render_as_string(hide_password=False), pool_size=2)
    job_id = new_id("job")
    try:
        with other.begin() as conn:
            conn.execute(
                jobs_table.insert().values(
                    id=job_id,
                    kind="sourcing.reoptimise",
                    status="running",
                    params={"limit": 100},
                    progress_done=40,
                    progress_total=100,
                    attempts=1,
                    holder="elsewhere:1",
                    created_at=utcnow(),
                    started_at=utcnow(),
                    heartbeat_at=utcnow(),
                )
            )
    finally:
        other.dispose()
    auth.create_user(engine, email="op@shop.test", name="Op", role="operator", password="secret-pw")
    login_form = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_form).group(1)  # type: ignore[union-attr]
    client.post(
        "/login", data={"email": "op@shop.test", "password": "secret-pw", "csrf_token": csrf}, follow_redirects=False
    )
    fragment = client.get(f"/console/sourcing/reoptimise/{job_id}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert 'data-testid="reopt-progress"' in fragment.text and "40 of 100 orders" in fragment.text
    assert 'hx-trigger="every 1s"' in fragment.text and '<progress max="100" value="40"' in fragment.text
    assert "No such run" in client.get("/console/sourcing/reoptimise/job_nope").text
    page = client.get("/console/jobs")
    assert page.status_code == 200 and f'data-job="{job_id}"' in page.text and "40/100" in page.text
    assert 'href="/console/jobs" class="active"' in page.text
