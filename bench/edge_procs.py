"""The edge as real processes on loopback (docs/edge.md §8, "multi-process schedules"): an
``orderhub serve`` hub, three ``orderhub edge`` gateways, each behind a TCP proxy the harness
opens and closes (a real cut: open connections are reset, new ones refused), and SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
KEY = "edge-procs-admin-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpProxy:
    """``127.0.0.1:port`` → ``127.0.0.1:target``, with a switch. ``cut()`` closes the listener
    and resets every open connection (RST); ``heal()`` listens again on the same port."""

    def __init__(self, target: int) -> None:
        self.target, self.port = target, free_port()
        self.lock = threading.Lock()
        self.conns: set[socket.socket] = set()
        self.listener: socket.socket | None = None
        self.heal()

    @property
    def is_up(self) -> bool:
        return self.listener is not None

    def heal(self) -> None:
        with self.lock:
            if self.listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self.lock:
            listener, self.listener = self.listener, None
            conns, self.conns = set(self.conns), set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for c in conns:
            with contextlib.suppress(OSError):
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
                c.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self.conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()
            with self.lock:
                self.conns.discard(src)
                self.conns.discard(dst)

    def close(self) -> None:
        self.cut()


class Proc:
    """One ``orderhub`` process we can SIGKILL and start again (its output to ``log``)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, health: str) -> None:
        self.args, self.env, self.log, self.health = args, env, log, health
        self.proc: subprocess.Popen[bytes] | None = None
        self.spent_s = 0.0  # CPU seconds of the runs before this one

    def cpu_s(self) -> float:
        """CPU seconds this process has used, over all its runs (Linux: /proc)."""
        return self.spent_s + self._live_cpu_s()

    def _live_cpu_s(self) -> float:
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "orderhub", *self.args], env=self.env, stdout=log, stderr=log
            )

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.spent_s += self._live_cpu_s()
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.spent_s += self._live_cpu_s()
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait_healthy(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.health, timeout=1).status_code == 200:
                    return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.args[0]} exited with {self.proc.returncode}: see {self.log}")
            time.sleep(0.1)
        raise AssertionError(f"{self.health} did not come up in {timeout_s} s (see {self.log})")


def environment(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
        "ORDERHUB_ENV": "test",
        **extra,
    }


def start_hub(workdir: Path) -> tuple[Proc, str]:
    port = free_port()
    env = environment(
        ORDERHUB_DATABASE_URL=f"sqlite:///{workdir / 'hub.db'}",
        ORDERHUB_BOOTSTRAP_ADMIN_KEY=KEY,
        ORDERHUB_RUN_BUS="false",
    )
    url = f"http://127.0.0.1:{port}"
    hub = Proc(["serve", "--port", str(port)], env, workdir / "hub.log", f"{url}/healthz")
    hub.start()
    hub.wait_healthy()
    return hub, url


def start_gateway(
    workdir: Path, store_id: str, hub_url: str, *, interval_s: float = 0.3, wait: bool = True
) -> tuple[Proc, str]:
    """An ``orderhub edge`` process for ``store_id``; ``wait`` False: started, not yet healthy."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["edge", "--hub", hub_url, "--store", store_id, "--db", str(workdir / f"{store_id}.db"), "--port", str(port)]
    gw = Proc(
        [*args, "--hub-key", KEY, "--interval", str(interval_s)],
        environment(),
        workdir / f"{store_id}.log",
        f"{url}/healthz",
    )
    gw.start()
    if wait:
        gw.wait_healthy()
    return gw, url


def seed_hub(
    url: str, *, stores: list[str], skus: dict[str, int], store_stock: int, dc_stock: int, policy: dict[str, Any]
) -> None:
    """Nodes, items, stock, and the gateways registered with ``policy``."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as c:
        places = {"DC-1": (50.1, 8.7), **{s: (52.0 + i, 10.0 + i) for i, s in enumerate(stores)}}
        for node_id, (lat, lon) in places.items():
            is_store = node_id.startswith("ST")
            caps = ["ships", "pickup", "returns"] if is_store else ["ships", "returns"]
            node = {
                "id": node_id,
                "name": node_id,
                "type": "store" if is_store else "distribution_centre",
                "lat": lat,
                "lon": lon,
                "region": "DE",
                "capabilities": caps,
            }
            c.post("/api/v1/nodes", json=node).raise_for_status()
        rows = [
            {"node_id": n, "sku": s, "on_hand": dc_stock if n == "DC-1" else store_stock} for n in places for s in skus
        ]
        c.post(
            "/api/v1/inventory/positions", json={"source": "setup", "sequence": 1, "mode": "snapshot", "rows": rows}
        ).raise_for_status()
        for store_id in stores:
            c.post("/api/v1/edge/gateways", json={"store_id": store_id}).raise_for_status()
            c.put(f"/api/v1/edge/gateways/{store_id}/policy", json=policy).raise_for_status()
