"""Routes for durable jobs and the timers' schedules (the logic is in ``platform.jobs``).

Jobs are started by their context's own route (``POST /api/v1/sourcing/reoptimise``), which
answers ``202`` with ``accepted(job)``; these routes read, list and cancel them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from orderhub.platform import jobs, problems
from orderhub.platform.web import EngineDep, Operator, Viewer

router = APIRouter(prefix="/api/v1", tags=["jobs"], responses=problems.READ)


def job_json(job: jobs.Job) -> dict[str, Any]:
    """A job as the API shows it, with links to itself and to cancel it."""
    return {
        **job.as_dict(),
        "links": {"self": f"/api/v1/jobs/{job.id}", "cancel": f"/api/v1/jobs/{job.id}/cancel"},
    }


def accepted(job: jobs.Job) -> JSONResponse:
    """``202 Accepted`` with the queued job and its ``Location`` (poll it until it finishes)."""
    return JSONResponse(job_json(job), status_code=202, headers={"Location": f"/api/v1/jobs/{job.id}"})


@router.get("/jobs", summary="Jobs, newest first")
def list_jobs(
    engine: EngineDep,
    _: Viewer,
    status: jobs.JobStatus | None = None,
    kind: Annotated[str | None, Query(max_length=80)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """One page of jobs (optionally of one status or kind); ``next_cursor`` continues."""
    page = jobs.get_all(engine, status=status, kind=kind, cursor=cursor, limit=limit)
    return {"items": [job_json(j) for j in page.items], "next_cursor": page.next_cursor}


@router.get("/jobs/{job_id}", responses=problems.FOUND, summary="A job: status, progress, report or error")
def get_job(job_id: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    """The job as its row stands now, whichever process runs it (404 if unknown)."""
    return job_json(jobs.get(engine, job_id))


@router.post("/jobs/{job_id}/cancel", responses=problems.WRITE, summary="Cancel a job")
def cancel_job(job_id: str, engine: EngineDep, who: Operator) -> dict[str, Any]:
    """A queued job never runs; a running one stops at its next progress report (what it
    already did stays done). Needs the role its kind asks for (operator at least); 409 if the
    job already succeeded or failed; cancelling twice is harmless."""
    who.require(jobs.role_for(jobs.get(engine, job_id).kind))
    return job_json(jobs.cancel(engine, job_id))


@router.get("/schedules", summary="The timers: runs, failures, last result, next due")
def list_schedules(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    """Each timer's recorded state (presale-lock expiry, cart holds, consolidated runs, …)."""
    return {"items": jobs.get_schedules(engine)}
