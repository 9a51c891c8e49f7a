"""An unknown failure answers the 500 problem (a request id, no stack trace) with the security
headers, and the client's keep-alive connection survives it (it used to be dropped)."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import uvicorn
from sqlalchemy import Engine

from orderhub.app import create_app
from orderhub.platform.settings import Settings
from tests.integration.test_bus_crash import _free_port


def _read_response(sock: socket.socket) -> tuple[str, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(rest) < int(headers.get("content-length", "0")):
        rest += sock.recv(65536)
    return lines[0], headers, rest


def test_a_500_is_a_problem_and_the_connection_stays_open(sqlite_engine: Engine, tmp_path: Path) -> None:
    app = create_app(Settings(env="test", run_jobs=False, run_bus=False), engine=sqlite_engine)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = _read_response(sock)
            assert status.startswith("HTTP/1.1 500")
            assert headers["content-type"] == "application/problem+json"
            assert headers["x-content-type-options"] == "nosniff"
            problem = json.loads(body)
            assert problem["status"] == 500 and problem["request_id"].startswith("req_")
            assert "secret internals" not in body.decode()
            # the same connection answers the next request
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, body = _read_response(sock)
            assert status.startswith("HTTP/1.1 200") and json.loads(body)["status"] == "ok"
    finally:
        server.should_exit = True
        thread.join(10)
