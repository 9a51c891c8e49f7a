"""Durable jobs and schedules: their state lives in the database (``platform.jobs_store``).

A *job* is long work started by someone (a batch re-optimisation): ``submit`` queues a row,
any process's runner claims it with one conditional UPDATE (so two processes never run one
job), and the job reports progress through the row, which every process reads. The progress
call is also the heartbeat: a job whose runner died (no heartbeat for ``stale_after_s``) is put
back in the queue by ``requeue_stale`` and runs again; a kind must therefore be restartable,
and must call ``progress`` more often than the stale threshold.

A *schedule* is periodic work (the timers): ``run_due`` runs each one that is due and records
runs, failures, the last result or error and when it is next due.

Platform imports no context: the composition root registers each kind's ``run`` function.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, InvalidInput, NotFound
from orderhub.core.ids import new_id
from orderhub.platform.auth.model import Role
from orderhub.platform.db import unit_of_work, upsert
from orderhub.platform.jobs_store import jobs, schedules

log = logging.getLogger("orderhub.jobs")

MAX_ATTEMPTS = 3  # a job whose runner died this many times is failed, not retried again
WRITE_EVERY_S = 0.5  # progress writes (and heartbeats) at most twice a second


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"  # while ``finished_at`` is empty, the runner has yet to notice


class Cancelled(Exception):
    """Raised by ``progress`` when the job was cancelled, or handed to another runner because
    this one was taken for dead; the job's function lets it propagate."""


class Interrupted(Exception):
    """Raised by ``progress`` when this process is stopping: the job goes back to the queue."""


Progress = Callable[[int, int], None]
RunJob = Callable[[Engine, dict[str, Any], Progress], dict[str, Any]]
Timer = Callable[[Engine], Any]


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of job: the function that runs it and the role needed to start or cancel it."""

    name: str
    run: RunJob
    role: Role


_kinds: dict[str, Kind] = {}


def register_kind(kind: str, run: RunJob, *, role: Role = Role.operator) -> None:
    """Make ``kind`` runnable in this process (registering again replaces it)."""
    _kinds[kind] = Kind(kind, run, role)


def get_kind(kind: str) -> Kind:
    """The registered kind, or ``InvalidInput`` (``unknown_job_kind``)."""
    try:
        return _kinds[kind]
    except KeyError:
        raise InvalidInput(f"no job kind {kind!r}", code="unknown_job_kind", kind=kind) from None


def role_for(kind: str) -> Role:
    """The role needed to start or cancel ``kind`` (operator for a kind not registered here)."""
    registered = _kinds.get(kind)
    return max(registered.role, Role.operator) if registered else Role.operator


@dataclass(frozen=True, slots=True)
class Job:
    """One job row as the API and console show it."""

    id: str
    kind: str
    status: JobStatus
    params: dict[str, Any]
    progress_done: int
    progress_total: int
    report: dict[str, Any] | None
    error: str
    attempts: int
    created_by: str
    holder: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None

    @property
    def is_active(self) -> bool:
        """Queued, running, or cancelled but still stopping."""
        return self.finished_at is None

    def as_dict(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class JobPage:
    items: list[Job]
    next_cursor: str | None


def _job(row: Any) -> Job:
    values = dict(row._mapping)
    values["status"] = JobStatus(values["status"])
    return Job(**values)


def _load(conn: Connection, job_id: str, *, lock: bool = False) -> Job | None:
    query = sa.select(jobs).where(jobs.c.id == job_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return _job(row) if row is not None else None


# -- submitting, reading, cancelling ----------------------------------------------------------
def submit(engine: Engine, kind: str, params: dict[str, Any], created_by: str = "") -> str:
    """Queue a job of a registered ``kind``; a runner of any process picks it up. Returns its id."""
    get_kind(kind)
    job_id = new_id("job")
    with unit_of_work(engine) as conn:
        conn.execute(
            jobs.insert().values(
                id=job_id,
                kind=kind,
                status=JobStatus.queued,
                params=params,
                created_by=created_by,
                created_at=utcnow(),
            )
        )
    return job_id


def get(engine: Engine, job_id: str) -> Job:
    """The job as it stands now (``NotFound`` if unknown)."""
    with unit_of_work(engine, write=False) as conn:
        job = _load(conn, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}", code="job_not_found", job_id=job_id)
    return job


def get_all(
    engine: Engine, *, status: str | None = None, kind: str | None = None, cursor: str | None = None, limit: int = 50
) -> JobPage:
    """Jobs newest first, ``limit`` at a time; ``next_cursor`` continues (ids sort by time)."""
    query = sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit + 1)
    if status:
        query = query.where(jobs.c.status == status)
    if kind:
        query = query.where(jobs.c.kind == kind)
    if cursor:
        query = query.where(jobs.c.id < cursor)
    with unit_of_work(engine, write=False) as conn:
        rows = [_job(r) for r in conn.execute(query)]
    more = len(rows) > limit
    return JobPage(rows[:limit], rows[limit - 1].id if more else None)


def cancel(engine: Engine, job_id: str) -> Job:
    """Cancel a job: a queued one never runs; a running one stops at its next progress call
    (work it already committed stays). Cancelling a cancelled job changes nothing; a job that
    already succeeded or failed is a ``Conflict``."""
    with unit_of_work(engine) as conn:
        job = _load(conn, job_id, lock=True)
        if job is None:
            raise NotFound(f"no job {job_id}", code="job_not_found", job_id=job_id)
        if job.status in (JobStatus.succeeded, JobStatus.failed):
            raise Conflict(f"job {job_id} already {job.status}", code="job_finished", job_status=job.status.value)
        if job.status in (JobStatus.queued, JobStatus.running):
            ended = {"finished_at": utcnow()} if job.status == JobStatus.queued else {}
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(status=JobStatus.cancelled, **ended))
        job = _load(conn, job_id)
    assert job is not None
    return job


# -- running ----------------------------------------------------------------------------------
def run_next(
    engine: Engine, holder: str, *, stopping: threading.Event | None = None, write_every_s: float = WRITE_EVERY_S
) -> str | None:
    """Claim the oldest queued job of a kind registered here, run it, record its outcome
    (succeeded with its report, failed with its error, cancelled). Returns its id, or None
    when nothing was queued. ``stopping`` set makes the job's next progress call hand the job
    back to the queue, so a process that stops cleanly does not wait for long work."""
    job = _claim(engine, holder)
    if job is None:
        return None
    progress = _Progress(engine, job.id, holder, stopping, write_every_s)
    try:
        report = _kinds[job.kind].run(engine, dict(job.params), progress)
    except Cancelled:
        _end(engine, job.id, holder, JobStatus.cancelled, status=JobStatus.cancelled)
    except Interrupted:
        _end(
            engine, job.id, holder, JobStatus.running, status=JobStatus.queued, holder="", attempts=jobs.c.attempts - 1
        )
    except Exception as exc:
        log.exception("job %s (%s) failed", job.id, job.kind)
        _end(engine, job.id, holder, JobStatus.running, status=JobStatus.failed, error=f"{type(exc).__name__}: {exc}")
    else:
        report = json.loads(json.dumps(report, default=str))
        done = {"status": JobStatus.succeeded, "report": report, "progress_done": jobs.c.progress_total}
        if not _end(engine, job.id, holder, JobStatus.running, **done):
            # cancelled after its last progress call: it stays cancelled, with what it did
            _end(engine, job.id, holder, JobStatus.cancelled, report=report)
    return job.id


def _claim(engine: Engine, holder: str) -> Job | None:
    kinds = list(_kinds)
    if not kinds:
        return None
    with unit_of_work(engine, write=False) as conn:  # an idle poll takes no write lock
        candidates = conn.execute(
            sa.select(jobs.c.id)
            .where(jobs.c.status == JobStatus.queued, jobs.c.kind.in_(kinds))
            .order_by(jobs.c.created_at, jobs.c.id)
            .limit(5)
        ).scalars()
        ids = list(candidates)
    if not ids:
        return None
    now = utcnow()
    with unit_of_work(engine) as conn:
        for job_id in ids:
            # the conditional UPDATE decides: of two runners, the second finds it no longer queued
            taken = conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.queued)
                .values(
                    status=JobStatus.running,
                    holder=holder,
                    attempts=jobs.c.attempts + 1,
                    started_at=now,
                    heartbeat_at=now,
                    error="",
                )
            ).rowcount
            if taken:
                return _load(conn, job_id)
    return None


def _end(engine: Engine, job_id: str, runner: str, current: JobStatus, /, **values: Any) -> bool:
    """Write a job's outcome if ``runner`` still holds it in status ``current``."""
    if values.get("status") != JobStatus.queued:
        values["finished_at"] = utcnow()
    with unit_of_work(engine) as conn:
        return bool(
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.holder == runner, jobs.c.status == current)
                .values(**values)
            ).rowcount
        )


class _Progress:
    """The ``progress(done, total)`` handed to a job: writes the row (throttled), which is
    also the heartbeat, and raises ``Cancelled`` once the row is no longer this runner's."""

    def __init__(
        self, engine: Engine, job_id: str, holder: str, stopping: threading.Event | None, write_every_s: float
    ) -> None:
        self.engine, self.job_id, self.holder = engine, job_id, holder
        self.stopping, self.write_every_s = stopping, write_every_s
        self.last_write = float("-inf")

    def __call__(self, done: int, total: int) -> None:
        if self.stopping is not None and self.stopping.is_set():
            raise Interrupted(f"job {self.job_id} handed back: this process is stopping")
        now = time.monotonic()
        if now - self.last_write < self.write_every_s:
            return
        self.last_write = now
        with unit_of_work(self.engine) as conn:
            mine = conn.execute(
                jobs.update()
                .where(jobs.c.id == self.job_id, jobs.c.holder == self.holder, jobs.c.status == JobStatus.running)
                .values(progress_done=done, progress_total=total, heartbeat_at=utcnow())
            ).rowcount
        if not mine:
            raise Cancelled(f"job {self.job_id} was cancelled or handed to another runner")


def requeue_stale(engine: Engine, stale_after_s: float) -> dict[str, int]:
    """Jobs whose runner stopped beating for ``stale_after_s`` (the process died) go back to
    the queue and run again; after ``MAX_ATTEMPTS`` runs they fail instead. A cancelled job
    whose runner died is closed. Counts what it did."""
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    is_stale = sa.or_(jobs.c.heartbeat_at.is_(None), jobs.c.heartbeat_at < cutoff)
    unfinished = sa.or_(
        jobs.c.status == JobStatus.running, sa.and_(jobs.c.status == JobStatus.cancelled, jobs.c.finished_at.is_(None))
    )
    with unit_of_work(engine, write=False) as conn:
        if conn.execute(sa.select(jobs.c.id).where(unfinished, is_stale).limit(1)).first() is None:
            return {"requeued": 0, "failed": 0, "closed": 0}
    now = utcnow()
    running = sa.and_(jobs.c.status == JobStatus.running, is_stale)
    with unit_of_work(engine) as conn:
        failed = conn.execute(
            jobs.update()
            .where(running, jobs.c.attempts >= MAX_ATTEMPTS)
            .values(
                status=JobStatus.failed,
                error=f"its runner stopped {MAX_ATTEMPTS} times without finishing",
                finished_at=now,
            )
        ).rowcount
        requeued = conn.execute(
            jobs.update().where(running).values(status=JobStatus.queued, holder="", heartbeat_at=None)
        ).rowcount
        closed = conn.execute(
            jobs.update()
            .where(jobs.c.status == JobStatus.cancelled, jobs.c.finished_at.is_(None), is_stale)
            .values(finished_at=now)
        ).rowcount
    if failed or requeued:
        log.warning("stale jobs: %d requeued, %d failed after %d attempts", requeued, failed, MAX_ATTEMPTS)
    return {"requeued": requeued, "failed": failed, "closed": closed}


# -- schedules --------------------------------------------------------------------------------
def run_due(engine: Engine, holder: str, schedule: Mapping[str, tuple[float, Timer]]) -> dict[str, Any]:
    """Run each schedule that is due (never run, or ``next_due_at`` passed) and record in one
    transaction its run, failure, result or error, and next due time (start + interval).
    Returns the results of those that ran and succeeded. Call it under a lease: it does not
    stop two processes from running the same schedule at once."""
    now = utcnow()
    with unit_of_work(engine, write=False) as conn:
        next_due = {name: due for name, due in conn.execute(sa.select(schedules.c.name, schedules.c.next_due_at))}
    results: dict[str, Any] = {}
    records = []
    for name, (interval_s, timer) in schedule.items():
        due_at = next_due.get(name)
        if due_at is not None and due_at > now:
            continue
        started, error, result = utcnow(), "", None
        try:
            result = results[name] = timer(engine)
        except Exception as exc:
            log.exception("schedule %s failed; it runs again when next due", name)
            error = f"{type(exc).__name__}: {exc}"
        records.append(
            {
                "name": name,
                "interval_s": interval_s,
                "runs": 1,
                "failures": 1 if error else 0,
                "last_started_at": started,
                "last_finished_at": utcnow(),
                "last_result": None if error else json.loads(json.dumps(result, default=str)),
                "last_error": error,
                "next_due_at": started + timedelta(seconds=interval_s),
                "holder": holder,
            }
        )
    if records:
        _record_runs(engine, records)
    return results


def _record_runs(engine: Engine, records: list[dict[str, Any]]) -> None:
    with unit_of_work(engine) as conn:
        for record in records:
            insert = upsert(conn)(schedules).values(**record)
            changed = {k: insert.excluded[k] for k in record if k not in ("name", "runs", "failures")}
            if record["last_error"]:
                del changed["last_result"]  # a failed run keeps the last good result
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[schedules.c.name],
                    set_={
                        **changed,
                        "runs": schedules.c.runs + 1,
                        "failures": schedules.c.failures + insert.excluded.failures,
                    },
                )
            )


def get_schedules(engine: Engine) -> list[dict[str, Any]]:
    """Every schedule's recorded state, by name."""
    with unit_of_work(engine, write=False) as conn:
        rows = conn.execute(sa.select(schedules).order_by(schedules.c.name)).mappings().all()
    return [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()} for row in rows]
