"""The ``orderhub`` command: serve, migrate, demo, simulate, import, users, edge (a store gateway)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from orderhub.platform.settings import Settings


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    from orderhub.platform.db import create_db_engine

    return create_db_engine(settings.database_url, pool_size=settings.db_pool_size)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from orderhub.migrations import upgrade

    upgrade(_engine(settings))
    print(f"database at {settings.database_url.split('@')[-1]} is up to date")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from orderhub.app import create_app
    from orderhub.migrations import upgrade

    engine = _engine(settings)
    upgrade(engine)
    if settings.bootstrap_admin_key:  # once, before any worker starts
        from orderhub.platform.auth import service as auth

        auth.ensure_bootstrap_admin(engine, settings.bootstrap_admin_key)
    workers = args.workers or settings.workers
    options: dict[str, Any] = {"host": args.host, "port": args.port, "log_level": "info", "access_log": False}
    if workers > 1:
        if settings.is_sqlite:
            print("note: SQLite has one writer; more than one worker only adds contention", file=sys.stderr)
        engine.dispose()
        bus = _start_bus_process() if settings.run_bus else None
        # each worker process builds its own app and engine from the same ORDERHUB_* settings
        try:
            uvicorn.run("orderhub.app:create_app", factory=True, workers=workers, **options)
        finally:
            if bus is not None:
                bus.terminate()
                bus.wait(15)
        return 0
    uvicorn.run(create_app(settings, engine=engine), **options)
    return 0


def _start_bus_process() -> Any:
    """With several API processes the bus runs in one process of its own (``orderhub bus``):
    its relay and subscribers then never take the GIL from request threads. The API processes
    are told not to run it."""
    import os
    import subprocess

    os.environ["ORDERHUB_RUN_BUS"] = "false"  # read by every API process uvicorn starts
    env = {**os.environ, "ORDERHUB_RUN_BUS": "true"}
    return subprocess.Popen([sys.executable, "-m", "orderhub", "bus"], env=env)


#: The carrier webhook secrets of the demo, which its simulator signs with.
DEMO_SECRETS = {
    "ORDERHUB_EASYPOST_WEBHOOK_SECRET": "demo-easypost-secret",
    "ORDERHUB_AFTERSHIP_WEBHOOK_SECRET": "demo-aftership-secret",
}


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from orderhub.demo import seed

    for name, value in DEMO_SECRETS.items():  # unless the environment chose its own
        os.environ.setdefault(name, value)
    settings = Settings()
    engine = _engine(settings)
    from orderhub.migrations import upgrade

    print("demo: migrating the database …", flush=True)
    upgrade(engine)
    summary = seed(engine, days=args.days, seed=args.seed, progress=lambda line: print(line, flush=True))
    print(summary)
    print(f"\nOrderHub console: http://{args.host}:{args.port}/console")
    print("Log in as admin@demo.orderhub (password: demo) — or operator@ / viewer@ with the same password.")
    print(f"API: curl -H 'Authorization: Bearer demo-admin-key' http://{args.host}:{args.port}/api/v1/orders")
    if args.no_serve:
        return 0
    if args.no_simulate:
        return cmd_serve(args, settings)
    from orderhub.demo.simulator import start_in_background

    options = _simulator_options(args, url=f"http://{_client_host(args.host)}:{args.port}", api_key="demo-admin-key")
    sim, thread = start_in_background(options)
    print(
        f"Simulator: {options.rate:g} orders/min on average on web, Shopify, WooCommerce, POS and social"
        f"{'' if options.flat else ', following the Online Retail arrival pattern'}, each walked to the "
        "doorstep (--no-simulate turns it off)",
        flush=True,
    )
    try:
        return cmd_serve(args, settings)
    finally:
        sim.stop()
        thread.join(timeout=15)


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _simulator_options(args: argparse.Namespace, *, url: str, api_key: str) -> Any:
    import os

    from orderhub.demo.feeds import Secrets
    from orderhub.demo.simulator import Options

    secrets = Secrets(
        easypost=os.environ.get("ORDERHUB_EASYPOST_WEBHOOK_SECRET", DEMO_SECRETS["ORDERHUB_EASYPOST_WEBHOOK_SECRET"]),
        aftership=os.environ.get(
            "ORDERHUB_AFTERSHIP_WEBHOOK_SECRET", DEMO_SECRETS["ORDERHUB_AFTERSHIP_WEBHOOK_SECRET"]
        ),
    )
    return Options(
        url=url,
        api_key=api_key,
        rate=args.rate,
        flat=args.flat,
        speed=args.speed,
        workers=args.sim_workers,
        seed=args.seed,
        secrets=secrets,
    )


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    """Drive a running hub over HTTP with simulated orders until Ctrl-C (or ``--duration``)."""
    import logging
    import signal

    from orderhub.demo.simulator import Simulator, report_line

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    sim = Simulator(_simulator_options(args, url=args.url.rstrip("/"), api_key=args.api_key))
    signal.signal(signal.SIGTERM, lambda *_: sim.stop())
    mode = "steady" if args.flat else "following the Online Retail arrival pattern"
    print(
        f"simulating against {args.url}: {args.rate:g} orders/min ({mode}), a world day every "
        f"{86400 / args.speed / 60:.1f} min, {sim.options.pool_size} workers; Ctrl-C stops",
        flush=True,
    )
    try:
        totals = sim.run(duration_s=args.duration or None, max_orders=args.orders or None)
    except KeyboardInterrupt:
        sim.stop()
        totals = sim.stats.total
    print("total: " + report_line(totals, None, datetime.now()).split(" simulator: ", 1)[1], flush=True)
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Capture every order in a JSON file (a list of payloads, or one per line)."""
    from orderhub.core.errors import InvalidInput
    from orderhub.migrations import upgrade
    from orderhub.orders import capture
    from orderhub.wiring import wire

    wire(settings)
    engine = _engine(settings)
    upgrade(engine)
    text = Path(args.file).read_text()
    stripped = text.lstrip()
    payloads = json.loads(text) if stripped.startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    created = existing = rejected = 0
    for payload in payloads:
        try:
            result = capture.receive(
                engine, adapter=args.adapter, body=json.dumps(payload).encode(), actor=f"import:{args.file}"
            )
        except InvalidInput as exc:
            rejected += 1
            print(f"rejected ({exc.fields.get('dead_letter_id')}): {exc.detail}", file=sys.stderr)
            continue
        created += result.created
        existing += not result.created
    print(f"{created} captured, {existing} already known, {rejected} rejected (see dead letters)")
    return 1 if rejected else 0


def cmd_forecast(args: argparse.Namespace, settings: Settings) -> int:
    """Demand forecasts: import history, convert the Online Retail file, backtest a history
    file, run or update the forecasts (docs/forecast.md)."""
    from orderhub.core.errors import InvalidInput
    from orderhub.forecast import service as forecast

    if args.action == "convert-online-retail":
        return _convert_online_retail(args)
    if args.action == "backtest":
        with _open_text(args.history) as f:
            report = forecast.backtest_file(
                f, horizon=args.horizon, folds=args.folds, top=args.top, jobs=args.jobs, all_models=args.all_models
            )
        from orderhub.forecast.backtest import as_text

        print(as_text(report), end="")
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        return 0
    from orderhub.migrations import upgrade

    engine = _engine(settings)
    upgrade(engine)
    if args.action == "import":
        try:
            with _open_text(args.file) as f:
                done = forecast.import_history(engine, f, currency=args.currency)
        except InvalidInput as exc:
            print(f"{exc.detail}", file=sys.stderr)
            for e in exc.errors:
                line, _, field = e["pointer"].removeprefix("/line/").partition("/")
                print(f"  line {line}, {field}: {e['detail']}", file=sys.stderr)
            return 1
        print(f"{done['rows']} rows imported: {done['days']} days of {done['series']} series")
        return 0
    if args.action == "run":
        summary = forecast.run(engine, horizon=args.horizon, folds=args.folds, jobs=args.jobs, as_of=args.as_of)
    else:
        summary = forecast.update(engine, jobs=args.jobs, as_of=args.as_of)
    print(json.dumps(summary, indent=2))
    return 0


def _open_text(path: str) -> Any:
    """A text file, gzip-compressed or not, for the csv module."""
    import gzip

    return (
        gzip.open(path, "rt", newline="", encoding="utf-8-sig")
        if path.endswith(".gz")
        else open(path, newline="", encoding="utf-8-sig")
    )


def _convert_online_retail(args: argparse.Namespace) -> int:
    from collections import Counter

    from orderhub.forecast import online_retail

    counts: Counter[str] = Counter()
    with _open_text(args.file) as f, open(args.out, "w", newline="") as out:
        n = online_retail.write(online_retail.convert(f, counts), out)
    left = ", ".join(f"{k}: {v}" for k, v in counts.items() if k not in ("lines", "kept"))
    print(f"{counts['lines']} lines read, {counts['kept']} kept ({left}); {n} rows written to {args.out}")
    return 0


def cmd_bus(args: argparse.Namespace, settings: Settings) -> int:
    """Run the relay and subscribers without the HTTP API, until SIGTERM or Ctrl-C."""
    import signal
    import threading

    import orderhub.app  # noqa: F401  (every context's events and subscribers)
    from orderhub.bus.worker import load_plugins, start_worker
    from orderhub.migrations import upgrade
    from orderhub.wiring import wire

    wire(settings)
    engine = _engine(settings)
    upgrade(engine)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    load_plugins(settings)
    names = [] if args.no_subscribers else args.subscriber or None
    worker = start_worker(engine, settings, relay=not args.no_relay, names=names)
    print(f"bus worker running ({settings.bus_url or 'embedded'}): {[t.name for t in worker.threads]}", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    worker.stop()
    return 0


def cmd_events(args: argparse.Namespace, settings: Settings) -> int:
    """Print the event catalogue (JSON, or the docs/events.md page with --markdown)."""
    import orderhub.app  # noqa: F401  (every context's events are defined once the app is importable)
    from orderhub.bus import catalogue

    print(catalogue.markdown() if args.markdown else json.dumps(catalogue.catalogue(), indent=2), end="")
    return 0


def cmd_edge(args: argparse.Namespace, settings: Settings) -> int:
    """Run a store gateway (docs/edge.md): the till on its own SQLite file, syncing with the hub
    whenever it can reach it."""
    import uvicorn

    from orderhub.edge.sync import HttpHub
    from orderhub.edge.till import create_till_app
    from orderhub.migrations import upgrade
    from orderhub.platform.db import create_db_engine

    db = args.db or f"edge-{args.store}.db"
    engine = create_db_engine(f"sqlite:///{db}", pool_size=4)
    upgrade(engine)
    hub = HttpHub(args.hub, args.hub_key or settings.edge_hub_key)
    app = create_till_app(engine=engine, store_id=args.store, hub=hub, hub_url=args.hub, interval_s=args.interval)
    print(f"gateway of {args.store} on {db}: till at http://{args.host}:{args.port}/till, hub {args.hub}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def cmd_user(args: argparse.Namespace, settings: Settings) -> int:
    from orderhub.platform.auth import service as auth

    engine = _engine(settings)
    principal = auth.create_user(
        engine, email=args.email, name=args.name or args.email, role=args.role, password=args.password
    )
    key = auth.create_api_key(engine, user_id=principal.user_id, name="cli")
    print(f"user {principal.email} ({principal.role.name}) created; API key: {key}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orderhub", description="OrderHub order management hub")
    sub = parser.add_subparsers(dest="command", required=True)

    def served(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.add_argument("--workers", type=int, default=0, help="API processes (default ORDERHUB_WORKERS or 1)")

    def simulated(p: argparse.ArgumentParser) -> None:
        from orderhub.demo.agenda import DEMO_SPEED
        from orderhub.demo.simulator import DEFAULT_RATE

        p.add_argument(
            "--rate", type=float, default=DEFAULT_RATE, help="orders per minute, on average over the arrival pattern"
        )
        p.add_argument("--flat", action="store_true", help="a steady rate, without the hour/weekday/month pattern")
        p.add_argument(
            "--speed", type=float, default=DEMO_SPEED, help="world seconds per real second (180: a day in 8 minutes)"
        )
        p.add_argument("--sim-workers", type=int, default=0, help="HTTP workers (default: from the rate)")

    served(sub.add_parser("serve", help="run the API and console"))
    sub.add_parser("migrate", help="create or upgrade the database schema")
    demo = sub.add_parser("demo", help="load the demo world and serve it")
    served(demo)
    demo.add_argument("--days", type=int, default=730, help="days of order history")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--no-serve", action="store_true", help="load the data and exit")
    demo.add_argument("--no-simulate", action="store_true", help="serve without the order simulator")
    simulated(demo)
    sim = sub.add_parser("simulate", help="drive a running hub with simulated orders over HTTP")
    sim.add_argument("--url", default="http://127.0.0.1:8000", help="the hub's base URL")
    sim.add_argument("--api-key", default="demo-admin-key", help="an operator's API key")
    sim.add_argument("--seed", type=int, default=7, help="the demo world's seed (as given to orderhub demo)")
    sim.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: run until Ctrl-C)")
    sim.add_argument("--orders", type=int, default=0, help="place this many orders, finish their journeys, stop")
    simulated(sim)
    imp = sub.add_parser("import", help="capture orders from a JSON file")
    imp.add_argument("file")
    imp.add_argument("--adapter", default="canonical", help="canonical, shopify, woocommerce, pos or social")
    bus = sub.add_parser("bus", help="run the event relay and subscribers (no HTTP)")
    bus.add_argument("--no-relay", action="store_true", help="subscribers only")
    bus.add_argument("--subscriber", action="append", help="run only this subscriber (repeatable)")
    bus.add_argument("--no-subscribers", action="store_true", help="the relay only")
    events = sub.add_parser("events", help="print the event catalogue")
    events.add_argument("--markdown", action="store_true", help="as docs/events.md")
    _forecast_parser(sub.add_parser("forecast", help="demand history, backtests and forecasts"))
    gateway = sub.add_parser("edge", help="run a store gateway: the till sells offline and syncs with the hub")
    gateway.add_argument("--hub", required=True, help="the hub's base URL, e.g. http://hub.example:8000")
    gateway.add_argument("--store", required=True, help="the store's node id at the hub, e.g. ST-BERLIN")
    gateway.add_argument("--db", default="", help="the gateway's SQLite file (default edge-<store>.db)")
    gateway.add_argument("--host", default="127.0.0.1", help="where the till page listens (the store's network)")
    gateway.add_argument("--port", type=int, default=8100)
    gateway.add_argument("--hub-key", default="", help="an operator's API key at the hub (or ORDERHUB_EDGE_HUB_KEY)")
    gateway.add_argument("--interval", type=float, default=1.0, help="seconds between syncs")
    user = sub.add_parser("user", help="create a user with an API key")
    user.add_argument("email")
    user.add_argument("--role", default="viewer")
    user.add_argument("--name", default="")
    user.add_argument("--password")
    return parser


def _forecast_parser(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    imp = actions.add_parser("import", help="add a history file (date,sku,location,quantity[,price]) to the history")
    imp.add_argument("file", help="CSV, or .csv.gz")
    imp.add_argument("--currency", default="", help="ISO 4217 code of the price column (revenue)")
    conv = actions.add_parser("convert-online-retail", help="the Online Retail file as a history file")
    conv.add_argument("file", help="online_retail.csv(.gz)")
    conv.add_argument("--out", required=True, help="the history file to write")
    bt = actions.add_parser("backtest", help="backtest every model and the per-series choice on a history file")
    bt.add_argument("--history", required=True, help="CSV (or .csv.gz): date,sku,location,quantity[,price]")
    bt.add_argument("--horizon", type=int, default=28, help="days held out and forecast (default 28)")
    bt.add_argument("--folds", type=int, default=3, help="earlier windows that choose the model (default 3)")
    bt.add_argument("--top", type=int, default=None, help="only the N series with the most units sold")
    bt.add_argument("--json", default=None, help="also write the figures as JSON to this file")
    bt.add_argument("--jobs", type=int, default=0, help="worker processes (default: the cores, at most 4)")
    bt.add_argument("--all-models", action="store_true", help="try ETS and Theta on intermittent series too")
    for name, text in (("run", "choose models and forecast every series"), ("update", "re-forecast what changed")):
        r = actions.add_parser(name, help=text)
        r.add_argument("--jobs", type=int, default=0, help="worker processes (default: the cores, at most 4)")
        r.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=None,
            help="the history's last day (default: the last with demand)",
        )
        if name == "run":
            r.add_argument("--horizon", type=int, default=28)
            r.add_argument("--folds", type=int, default=2, help="windows that choose the model (default 2)")


COMMANDS = {
    "forecast": cmd_forecast,
    "bus": cmd_bus,
    "edge": cmd_edge,
    "events": cmd_events,
    "serve": cmd_serve,
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "import": cmd_import,
    "simulate": cmd_simulate,
    "user": cmd_user,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    return COMMANDS[args.command](args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
