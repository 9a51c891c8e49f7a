"""Console sessions kept on the server, login throttling and the deployment's shared secret.

The session cookie is signed, but a signed cookie alone cannot be taken back: it only names a
row here, and logging out (or its absolute expiry) ends that row for every copy of the cookie.
Everything lives in the database, so every worker process sees the same sessions, the same
failed logins and the same generated secret.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import DomainError
from orderhub.platform.auth.model import Principal, Role
from orderhub.platform.auth.store import app_secrets, login_failures, sessions, users
from orderhub.platform.db import unit_of_work, upsert

#: After this many failed logins within the window, an account or an address must wait until
#: the window (counted from its first failure) has passed.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


class TooManyAttempts(DomainError):
    """Too many failed logins for this account or from this address: wait ``retry_after_s``."""

    code = "too_many_attempts"
    title = "Too many attempts"


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


# -- sessions ---------------------------------------------------------------------------------
def start(engine: Engine, *, user_id: str, max_age_s: int) -> str:
    """Open a session for ``user_id`` that ends at logout or after ``max_age_s``; returns its id
    (put it in the signed cookie; only its hash is stored)."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    with unit_of_work(engine) as conn:
        conn.execute(
            sessions.insert().values(
                id_hash=_hash(session_id),
                user_id=user_id,
                created_at=now,
                expires_at=now + timedelta(seconds=max_age_s),
                revoked_at=None,
            )
        )
    return session_id


def principal_for(engine: Engine, session_id: str) -> Principal | None:
    """The user of a live session (not ended, not expired), or None."""
    S, U = sessions, users
    with unit_of_work(engine, write=False) as conn:
        row = (
            conn.execute(
                sa.select(U.c.id, U.c.email, U.c.role)
                .join(S, S.c.user_id == U.c.id)
                .where(S.c.id_hash == _hash(session_id), S.c.revoked_at.is_(None), S.c.expires_at > utcnow())
            )
            .mappings()
            .first()
        )
    return Principal(user_id=row["id"], email=row["email"], role=Role[row["role"]], via="session") if row else None


def end(engine: Engine, session_id: str) -> None:
    """Log out: the session stops working for every copy of its cookie."""
    with unit_of_work(engine) as conn:
        conn.execute(
            sessions.update()
            .where(sessions.c.id_hash == _hash(session_id), sessions.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def prune(engine: Engine, *, now: datetime | None = None) -> dict[str, int]:
    """Delete sessions that expired or ended more than a day ago, and failed-login counts
    whose window has passed."""
    now = now or utcnow()
    cutoff = now - timedelta(days=1)
    F = login_failures
    with unit_of_work(engine) as conn:
        ended = conn.execute(
            sessions.delete().where(sa.or_(sessions.c.expires_at < cutoff, sessions.c.revoked_at < cutoff))
        ).rowcount
        counts = conn.execute(F.delete().where(F.c.window_start <= now - FAILURE_WINDOW)).rowcount
    return {"sessions": int(ended or 0), "login_failures": int(counts or 0)}


# -- throttling -------------------------------------------------------------------------------
def throttle_keys(*, email: str, address: str) -> list[str]:
    return [f"account:{email}"[:300], f"addr:{address}"[:300]]


def check_allowed(engine: Engine, keys: list[str]) -> None:
    """Raise ``TooManyAttempts`` if any of ``keys`` had ``MAX_FAILURES`` failures in its window."""
    now = utcnow()
    F = login_failures
    with unit_of_work(engine, write=False) as conn:
        rows = conn.execute(
            sa.select(F.c.window_start).where(
                F.c.key.in_(keys), F.c.failures >= MAX_FAILURES, F.c.window_start > now - FAILURE_WINDOW
            )
        ).scalars()
        until = max((start + FAILURE_WINDOW for start in rows), default=None)
    if until is not None:
        wait_s = max(1, math.ceil((until - now).total_seconds()))
        minutes = math.ceil(wait_s / 60)
        raise TooManyAttempts(
            f"too many attempts, try again in {minutes} minute{'s' if minutes != 1 else ''}",
            retry_after_s=wait_s,
        )


def record_failure(engine: Engine, keys: list[str]) -> None:
    """Count a failed login against each key; a window that ran out starts again at one.
    One statement per key, so concurrent failures in several processes all count."""
    now = utcnow()
    F = login_failures
    fresh = F.c.window_start <= now - FAILURE_WINDOW
    with unit_of_work(engine) as conn:
        for key in keys:
            stmt = upsert(conn)(F).values(key=key, failures=1, window_start=now)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[F.c.key],
                    set_={
                        "failures": sa.case((fresh, 1), else_=F.c.failures + 1),
                        "window_start": sa.case((fresh, now), else_=F.c.window_start),
                    },
                )
            )


def reset(engine: Engine, key: str) -> None:
    """A successful login clears its account's count."""
    with unit_of_work(engine) as conn:
        conn.execute(login_failures.delete().where(login_failures.c.key == key))


# -- the deployment's shared secret -----------------------------------------------------------
def shared_secret(engine: Engine, name: str) -> str:
    """A random secret generated once per database and read back by every process (the first
    process to start inserts it; the others keep the one that is there)."""
    with unit_of_work(engine) as conn:
        stmt = upsert(conn)(app_secrets).values(name=name, value=secrets.token_urlsafe(32), created_at=utcnow())
        conn.execute(stmt.on_conflict_do_nothing(index_elements=[app_secrets.c.name]))
        return str(conn.execute(sa.select(app_secrets.c.value).where(app_secrets.c.name == name)).scalar_one())
