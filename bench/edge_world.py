"""A hub and three store gateways in one process, each on its own real SQLite file, joined by
links a schedule can cut (docs/edge.md §8, "in-process schedules").

The gateways run the same code as ``orderhub edge`` (``edge.gateway``, ``edge.sync``); the hub
runs ``edge.service`` as its routes do, after the routes' own validation of what is pushed
(``edge.api.EventIn``). Only the transport differs: a function call through a ``Link`` whose
payloads travel as JSON. A cut link fails a call before it reaches the hub, or — as a link that
dies mid-answer — after the hub has committed, losing the answer.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from orderhub.core.clock import SystemClock, utcnow
from orderhub.core.errors import DomainError, NotFound
from orderhub.edge import api as edge_api
from orderhub.edge import service as edge
from orderhub.edge.gateway import Gateway
from orderhub.edge.sync import HubRefused, HubUnreachable
from orderhub.inventory import service as inventory
from orderhub.migrations import upgrade
from orderhub.platform.db import create_db_engine

STORES = ("ST-A", "ST-B", "ST-C")
DC = "DC-1"
SKUS = {"MUG-1": 850, "TEE-2": 1999, "CAP-3": 1450, "BAG-4": 3900}
PLACES = {DC: (50.11, 8.68), "ST-A": (52.52, 13.40), "ST-B": (48.14, 11.58), "ST-C": (53.55, 9.99)}
#: every store's shelf starts with this many of each SKU; the DC with DC_STOCK
STORE_STOCK, DC_STOCK = 6, 12
POLICY = {
    "cover_hours": 8.0,
    "min_units": 2,
    "hot_per_hour": 2.0,
    "slow_share": 0.6,
    "beyond": "refuse",
    "lease_s": 3600,
    "skew_s": 60,
}


class SimClock:
    """Wall time that a schedule moves forward by jumps (lease ends, rate windows)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.base = start or utcnow()
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.base + self.offset  # frozen between jumps: a schedule is reproducible

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class SkewedClock:
    """A store's own clock: the simulation's, off by ``skew_s`` (within the lease margin)."""

    sim: SimClock
    skew_s: float = 0.0

    def now(self) -> datetime:
        return self.sim.now() + timedelta(seconds=self.skew_s)


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@dataclass
class Link:
    """A store's line to the hub. ``up`` False: every call fails; ``lose_answers``: a share of
    calls fail *after* the hub committed (the answer is lost on the way back)."""

    hub: Engine
    rng: random.Random
    up: bool = True
    lose_answers: float = 0.0
    calls: int = 0
    lost: int = 0

    def call(self, fn: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if not self.up:
            raise HubUnreachable("link cut")
        try:
            answer = fn(self.hub, **kwargs)
        except DomainError as exc:  # what the routes answer as a 4xx problem
            raise HubRefused(
                404 if isinstance(exc, NotFound) else 409, {"code": exc.code, "detail": exc.detail}
            ) from exc
        if self.lose_answers and self.rng.random() < self.lose_answers:
            self.lost += 1
            raise HubUnreachable("the answer was lost")
        return _json(answer)


@dataclass
class LocalHub:
    """``sync.HubLink`` through a ``Link``: the hub's service behind the routes' validation."""

    link: Link

    def register(self, store_id: str, name: str) -> dict[str, Any]:
        return dict(self.link.call(edge.register, store_id=store_id, name=name))

    def push(self, store_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        body = edge_api.PushIn.model_validate(_json({"events": events}))
        checked = [edge.GatewayEvent(e.event_id, e.seq, e.hlc, e.type, e.data) for e in body.events]

        def run(engine: Engine, **_: Any) -> dict[str, Any]:
            result = edge.push(engine, store_id=store_id, events=checked)
            return {"applied_through": result.applied_through, "hub_hlc": result.hub_hlc, "results": result.results}

        return dict(self.link.call(run))

    def pull(self, store_id: str, body: dict[str, Any]) -> dict[str, Any]:
        checked = edge_api.PullIn.model_validate(_json(body))
        return dict(
            self.link.call(
                edge.pull,
                store_id=store_id,
                cursor=checked.cursor,
                want=checked.want,
                backlog=checked.backlog,
                hlc=checked.hlc,
            )
        )


@dataclass
class Templates:
    """Migrated database files, made once and copied per schedule (a copy takes a millisecond;
    a migration half a second)."""

    hub: Path
    gateway: Path


def make_templates(workdir: Path) -> Templates:
    """A hub with its nodes, items, stock and three registered gateways; an empty gateway."""
    workdir.mkdir(parents=True, exist_ok=True)
    hub_path, gw_path = workdir / "hub-template.db", workdir / "gateway-template.db"
    for path in (hub_path, gw_path):
        engine = create_db_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
    hub = create_db_engine(f"sqlite:///{hub_path}")
    nodes = [
        inventory.Node(
            id=node_id,
            name=node_id,
            type=inventory.NodeType.store if node_id.startswith("ST") else inventory.NodeType.distribution_centre,
            lat=lat,
            lon=lon,
            region="DE",
            city=node_id,
            capabilities=list(inventory.Capability),
        )
        for node_id, (lat, lon) in PLACES.items()
    ]
    inventory.save_nodes(hub, nodes=nodes)
    inventory.save_items(
        hub,
        items=[inventory.Item(sku, sku.title(), "demo", 300, price, price // 2) for sku, price in SKUS.items()],
    )
    rows = [inventory.StockRow(n, s, on_hand=DC_STOCK if n == DC else STORE_STOCK) for n in PLACES for s in SKUS]
    inventory.ingest(hub, source="setup", sequence=1, mode="snapshot", rows=rows)
    for store_id in STORES:
        edge.register(hub, store_id=store_id, name=f"Store {store_id}")
        edge.set_policy(hub, store_id=store_id, policy=POLICY)
    hub.dispose()
    return Templates(hub_path, gw_path)


class Slots:
    """The database files of a world and their engines, reused by every schedule a process
    runs: each schedule starts from fresh copies of the templates, but the engines (and the
    statements SQLAlchemy compiled for them) stay, which makes a schedule several times cheaper."""

    def __init__(self, workdir: Path, templates: Templates) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.templates = templates
        self.paths = {"hub": workdir / "hub.db", **{s: workdir / f"{s}.db" for s in STORES}}
        self.engines: dict[str, Engine] = {}

    def reset(self) -> None:
        """Every database back to its template (connections closed first)."""
        for name, path in self.paths.items():
            if name in self.engines:
                self.engines[name].dispose()
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            shutil.copy(self.templates.hub if name == "hub" else self.templates.gateway, path)
            if name not in self.engines:
                self.engines[name] = create_db_engine(f"sqlite:///{path}", pool_size=2)

    def close(self) -> None:
        for engine in self.engines.values():
            engine.dispose()


@dataclass
class World:
    """One schedule's hub and gateways, on fresh copies of the templates (``Slots``)."""

    slots: Slots
    seed: int
    sim: SimClock = field(default_factory=SimClock)
    rng: random.Random = field(init=False)
    hub: Engine = field(init=False)
    links: dict[str, Link] = field(default_factory=dict)
    gateways: dict[str, Gateway] = field(default_factory=dict)
    skews: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.slots.reset()
        edge.forget_process_state()
        self.hub = self.slots.engines["hub"]
        edge.use_clock(self.sim)
        for store_id in STORES:
            self.links[store_id] = Link(self.hub, random.Random(self.rng.random()))
            self.skews[store_id] = self.rng.uniform(-20, 20)  # within POLICY's 60 s margin
            self.gateways[store_id] = self._open(store_id)

    def _open(self, store_id: str) -> Gateway:
        engine = self.slots.engines[store_id]
        gw = Gateway(engine, store_id, LocalHub(self.links[store_id]), SkewedClock(self.sim, self.skews[store_id]))
        gw.setup(hub_url="local")
        return gw

    def restart_gateway(self, store_id: str) -> None:
        """What SIGKILL leaves of a gateway: its database, nothing of its memory (its objects,
        its locks, its open connections)."""
        self.gateways[store_id].engine.dispose()
        self.gateways[store_id] = self._open(store_id)

    def restart_hub(self) -> None:
        """What SIGKILL leaves of the hub: its database, no HLC in memory, no open connection."""
        self.hub.dispose()
        edge.forget_process_state()

    def close(self) -> None:
        edge.use_clock(SystemClock())
        edge.forget_process_state()
