"""Durable jobs and schedules: state in the database, one runner per job, survives its runner."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, InvalidInput, NotFound
from orderhub.platform import jobs
from orderhub.platform.db import create_db_engine, unit_of_work
from orderhub.platform.jobs_store import jobs as jobs_table
from orderhub.platform.jobs_store import schedules as schedules_table


def second_engine(engine):
    """Another engine (another pool, other connections) on the same database: what a second
    API process would see."""
    return create_db_engine(engine.url.render_as_string(hide_password=False), pool_size=2)


def wait_until(check, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def set_row(engine, job_id, **values):
    with unit_of_work(engine) as conn:
        conn.execute(jobs_table.update().where(jobs_table.c.id == job_id).values(**values))


def test_progress_and_report_are_visible_through_another_engine(engine):
    step = threading.Event()

    def run(_engine, params, progress):
        progress(1, params["n"])
        step.wait(10)
        progress(2, params["n"])
        return {"counted": params["n"]}

    jobs.register_kind("test.steps", run)
    job_id = jobs.submit(engine, "test.steps", {"n": 3}, created_by="user:a@x.de")
    other = second_engine(engine)
    try:
        queued = jobs.get(other, job_id)
        assert (queued.status, queued.attempts, queued.created_by, queued.params) == (
            "queued",
            0,
            "user:a@x.de",
            {"n": 3},
        )
        runner = threading.Thread(target=jobs.run_next, args=(engine, "runner-1"))
        runner.start()
        running = wait_until(lambda: (j := jobs.get(other, job_id)).progress_done == 1 and j)
        assert (running.status, running.progress_total, running.holder, running.attempts) == (
            "running",
            3,
            "runner-1",
            1,
        )
        assert running.heartbeat_at is not None and running.finished_at is None and running.report is None
        step.set()
        runner.join(10)
        done = jobs.get(other, job_id)
        assert (done.status, done.report, done.error) == ("succeeded", {"counted": 3}, "")
        assert (done.progress_done, done.progress_total) == (3, 3) and done.finished_at is not None
        assert [j.id for j in jobs.get_all(other).items] == [job_id]
    finally:
        other.dispose()
    assert jobs.run_next(engine, "runner-1") is None  # nothing left: an idle poll runs nothing


def test_two_runners_never_run_the_same_job(engine):
    ran: list[str] = []
    lock = threading.Lock()

    def run(_engine, params, progress):
        with lock:
            ran.append(params["i"])
        time.sleep(0.01)
        return {}

    jobs.register_kind("test.count", run)
    ids = [jobs.submit(engine, "test.count", {"i": i}) for i in range(12)]
    start = threading.Barrier(3)

    def runner(name):
        start.wait()
        while jobs.run_next(engine, name) is not None:
            pass

    threads = [threading.Thread(target=runner, args=(f"r{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(ran) == list(range(12))  # each once, none twice
    finished = [jobs.get(engine, i) for i in ids]
    assert {j.status for j in finished} == {"succeeded"} and {j.attempts for j in finished} == {1}


def test_a_job_whose_runner_died_is_requeued_and_completes(engine):
    jobs.register_kind("test.resume", lambda _e, params, progress: {"resumed": True})
    dead = jobs.submit(engine, "test.resume", {})
    alive = jobs.submit(engine, "test.resume", {})
    long_ago = utcnow() - timedelta(minutes=10)
    set_row(
        engine, dead, status="running", holder="host:1:dead", attempts=1, started_at=long_ago, heartbeat_at=long_ago
    )
    set_row(
        engine, alive, status="running", holder="host:2:alive", attempts=1, started_at=utcnow(), heartbeat_at=utcnow()
    )
    assert jobs.requeue_stale(engine, 60) == {"requeued": 1, "failed": 0, "closed": 0}
    assert jobs.get(engine, alive).status == "running"  # a beating runner keeps its job
    requeued = jobs.get(engine, dead)
    assert (requeued.status, requeued.holder, requeued.attempts) == ("queued", "", 1)
    assert jobs.run_next(engine, "host:3:new") == dead
    done = jobs.get(engine, dead)
    assert (done.status, done.report, done.attempts, done.holder) == ("succeeded", {"resumed": True}, 2, "host:3:new")
    assert jobs.requeue_stale(engine, 60) == {"requeued": 0, "failed": 0, "closed": 0}


def test_a_job_whose_runner_died_three_times_fails(engine):
    jobs.register_kind("test.doomed", lambda _e, params, progress: {})
    job_id = jobs.submit(engine, "test.doomed", {})
    long_ago = utcnow() - timedelta(minutes=10)
    set_row(engine, job_id, status="running", holder="h", attempts=jobs.MAX_ATTEMPTS, heartbeat_at=long_ago)
    assert jobs.requeue_stale(engine, 60) == {"requeued": 0, "failed": 1, "closed": 0}
    failed = jobs.get(engine, job_id)
    assert failed.status == "failed" and "stopped 3 times" in failed.error and failed.finished_at is not None
    assert jobs.run_next(engine, "h2") is None  # not run again


def test_cancel_stops_a_running_job_at_its_next_progress_call(engine):
    started, cancelled = threading.Event(), threading.Event()
    after_cancel: list[int] = []

    def run(_engine, params, progress):
        progress(0, 10)
        started.set()
        cancelled.wait(10)
        progress(1, 10)  # raises Cancelled
        after_cancel.append(1)
        return {"finished": True}

    jobs.register_kind("test.cancel", run)
    job_id = jobs.submit(engine, "test.cancel", {})
    runner = threading.Thread(target=jobs.run_next, args=(engine, "r"), kwargs={"write_every_s": 0.0})
    runner.start()
    assert started.wait(10)
    assert jobs.cancel(engine, job_id).status == "cancelled"
    cancelled.set()
    runner.join(10)
    job = jobs.get(engine, job_id)
    assert after_cancel == [] and job.report is None and job.progress_done == 0
    assert job.status == "cancelled" and job.finished_at is not None and not job.is_active
    assert jobs.cancel(engine, job_id).status == "cancelled"  # twice is harmless


def test_a_cancelled_queued_job_never_runs_and_a_finished_one_cannot_be_cancelled(engine):
    ran: list[int] = []
    jobs.register_kind("test.never", lambda _e, params, progress: ran.append(1) or {})
    queued = jobs.submit(engine, "test.never", {})
    assert jobs.cancel(engine, queued).finished_at is not None
    assert jobs.run_next(engine, "r") is None and ran == []
    done = jobs.submit(engine, "test.never", {})
    assert jobs.run_next(engine, "r") == done
    with pytest.raises(Conflict) as exc:
        jobs.cancel(engine, done)
    assert exc.value.code == "job_finished" and jobs.get(engine, done).status == "succeeded"
    with pytest.raises(NotFound):
        jobs.cancel(engine, "job_unknown")
    with pytest.raises(InvalidInput):
        jobs.submit(engine, "test.not-registered", {})


def test_a_failing_job_records_its_error(engine):
    def run(_engine, params, progress):
        progress(2, 5)
        raise ValueError("no stock table")

    jobs.register_kind("test.fails", run)
    job_id = jobs.submit(engine, "test.fails", {})
    assert jobs.run_next(engine, "r") == job_id
    job = jobs.get(engine, job_id)
    assert (job.status, job.error, job.report, job.progress_done) == ("failed", "ValueError: no stock table", None, 2)


def test_a_stopping_runner_hands_its_job_back_to_the_queue(engine):
    halt = threading.Event()

    def run(_engine, params, progress):
        progress(1, 4)
        halt.set()  # the process is asked to stop meanwhile
        progress(2, 4)
        return {}

    jobs.register_kind("test.halt", run)
    job_id = jobs.submit(engine, "test.halt", {})
    assert jobs.run_next(engine, "r", stopping=halt) == job_id
    job = jobs.get(engine, job_id)
    assert (job.status, job.holder, job.attempts, job.finished_at) == ("queued", "", 0, None)


def test_jobs_are_listed_newest_first_a_page_at_a_time(engine):
    jobs.register_kind("test.list", lambda _e, params, progress: {})
    ids = []
    for i in range(5):
        ids.append(jobs.submit(engine, "test.list", {"i": i}))
        time.sleep(0.002)  # ids order by millisecond; within one they are unique but unordered
    first = jobs.get_all(engine, limit=2)
    assert [j.id for j in first.items] == ids[:-3:-1] and first.next_cursor == ids[3]
    second = jobs.get_all(engine, limit=2, cursor=first.next_cursor)
    last = jobs.get_all(engine, limit=2, cursor=second.next_cursor)
    assert [j.id for j in second.items + last.items] == ids[2::-1] and last.next_cursor is None
    assert jobs.get_all(engine, status="running").items == []


def test_schedules_record_runs_failures_and_next_due(engine):
    calls: list[str] = []

    def ok(_engine):
        calls.append("ok")
        return {"released": len(calls)}

    def broken(_engine):
        calls.append("broken")
        raise RuntimeError("node table locked")

    schedule = {"test.ok": (0.2, ok), "test.broken": (60.0, broken)}
    before = utcnow()
    assert jobs.run_due(engine, "host:1", schedule) == {"test.ok": {"released": 1}}
    assert jobs.run_due(engine, "host:1", schedule) == {}  # neither is due yet
    assert calls == ["ok", "broken"]
    rows = {r["name"]: r for r in jobs.get_schedules(engine)}
    assert {k: rows["test.ok"][k] for k in ("runs", "failures", "last_result", "last_error", "holder")} == {
        "runs": 1,
        "failures": 0,
        "last_result": {"released": 1},
        "last_error": "",
        "holder": "host:1",
    }
    assert (rows["test.broken"]["runs"], rows["test.broken"]["failures"]) == (1, 1)
    assert rows["test.broken"]["last_error"] == "RuntimeError: node table locked"
    with engine.connect() as conn:
        due = {n: d for n, d in conn.execute(sa.select(schedules_table.c.name, schedules_table.c.next_due_at))}
    assert timedelta(seconds=60) <= due["test.broken"] - before < timedelta(seconds=65)
    time.sleep(0.25)
    assert jobs.run_due(engine, "host:2", schedule) == {"test.ok": {"released": 3}}
    rows = {r["name"]: r for r in jobs.get_schedules(engine)}
    assert (rows["test.ok"]["runs"], rows["test.ok"]["holder"], rows["test.ok"]["last_result"]) == (
        2,
        "host:2",
        {"released": 3},
    )
    assert (rows["test.broken"]["runs"], rows["test.broken"]["failures"]) == (1, 1)  # not due: not run
