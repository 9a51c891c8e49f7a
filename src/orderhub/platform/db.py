"""Engines, the shared metadata, and the unit of work.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` for write transactions, so two writers queue on
the busy timeout instead of failing on a lock upgrade. PostgreSQL runs READ COMMITTED; code that
must not race uses conditional statements and row locks in primary-key order.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Dialect, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)
log = logging.getLogger("orderhub.db")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC going in and coming out, on every
    database (SQLite stores it as ISO text without an offset, so it must be UTC already)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def create_db_engine(url: str, *, pool_size: int = 20, relaxed_commit: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and immediate write transactions.

    ``relaxed_commit`` (PostgreSQL): commits do not wait for the WAL flush
    (``synchronous_commit=off``). Only for work whose loss on a *server* crash is undone by
    redoing it — the bus worker's relay and subscribers, whose effects and offsets commit
    together (see docs/bus.md); never for orders. A process crash loses nothing either way."""
    if url.startswith("sqlite"):
        # A pool of long-lived connections: opening a WAL connection and closing the last one
        # (which checkpoints) costs more than a whole order's writes.
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _tune_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # No pre-ping: it costs a round trip on every checkout. A connection the server dropped
    # fails its statement once; SQLAlchemy then invalidates the pool, so one request sees the
    # error (503) and the next ones get fresh connections. Connections are recycled hourly.
    connect_args = {"options": "-c synchronous_commit=off"} if relaxed_commit else {}
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600, connect_args=connect_args)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


_sqlite_writers: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


@contextmanager
def _writer_turn(engine: Engine, write: bool) -> Iterator[None]:
    """SQLite has one writer at a time. Writers of this process queue on a lock instead of
    SQLite's busy handler, which sleeps in steps of up to 100 ms and makes tail latency
    collapse under load; other processes still meet the busy timeout."""
    if not write or engine.dialect.name != "sqlite":
        yield
        return
    lock = _sqlite_writers.setdefault(engine, threading.Lock())
    with lock:
        yield


@contextmanager
def unit_of_work(engine: Engine, *, write: bool = True) -> Iterator[Connection]:
    """One short transaction: commits when the block ends, rolls back on any exception.

    Only ``service.py`` modules open one. ``write=False`` starts a read-only transaction
    (on SQLite it does not take the write lock).
    """
    options = {"sqlite_begin": "IMMEDIATE" if write else "DEFERRED"}
    with _writer_turn(engine, write), engine.connect().execution_options(**options) as conn:
        try:
            with conn.begin():
                yield conn
        finally:  # .info lives with the pooled DBAPI connection: never leave callbacks behind
            callbacks = conn.info.pop(_AFTER_COMMIT, ())
        # reached only when the block committed
    for callback in callbacks:
        try:
            callback()
        except Exception:  # the change is committed; a side effect must not turn it into an error
            log.exception("an after-commit callback failed")


@contextmanager
def one_statement(engine: Engine) -> Iterator[Connection]:
    """A connection for one statement with no transaction around it (the statement is its own
    transaction): no BEGIN and COMMIT round trips, no SQLite lock for a read. For pollers that
    mostly find nothing to do, and for a write that is one atomic statement."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        yield conn


_AFTER_COMMIT = "orderhub.after_commit"


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the unit of work that owns ``conn`` has committed (never on a
    rollback). Side effects belong here, not inside the transaction (Saleor's on_commit)."""
    conn.info.setdefault(_AFTER_COMMIT, []).append(callback)


def upsert(conn: Connection) -> Any:
    """The dialect's ``insert`` that has ``on_conflict_do_update`` / ``do_nothing``."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def per_dialect(build: Callable[[Any], Any]) -> Callable[[Connection], Any]:
    """Build a statement once per dialect (``build(insert_fn)``) and reuse it: constructing
    SQLAlchemy statements costs more than running them on the hot path."""
    cache: dict[str, Any] = {}

    def get(conn: Connection) -> Any:
        name = conn.dialect.name
        if name not in cache:
            cache[name] = build(postgresql.insert if name == "postgresql" else sqlite.insert)
        return cache[name]

    return get
