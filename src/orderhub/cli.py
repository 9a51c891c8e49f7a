"""The ``orderhub`` command: serve, migrate, demo, import, users."""

from __future__ import annotations

import argparse
import json
import sys
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


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from orderhub.demo import seed

    engine = _engine(settings)
    from orderhub.migrations import upgrade

    upgrade(engine)
    summary = seed(engine, days=args.days, seed=args.seed)
    print(summary)
    print(f"\nOrderHub console: http://{args.host}:{args.port}/console")
    print("Log in as admin@demo.orderhub (password: demo) — or operator@ / viewer@ with the same password.")
    print(f"API: curl -H 'Authorization: Bearer demo-admin-key' http://{args.host}:{args.port}/api/v1/orders")
    if args.no_serve:
        return 0
    return cmd_serve(args, settings)


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

    served(sub.add_parser("serve", help="run the API and console"))
    sub.add_parser("migrate", help="create or upgrade the database schema")
    demo = sub.add_parser("demo", help="load the demo world and serve it")
    served(demo)
    demo.add_argument("--days", type=int, default=730, help="days of order history")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--no-serve", action="store_true", help="load the data and exit")
    imp = sub.add_parser("import", help="capture orders from a JSON file")
    imp.add_argument("file")
    imp.add_argument("--adapter", default="canonical", help="canonical, shopify, woocommerce, pos or social")
    bus = sub.add_parser("bus", help="run the event relay and subscribers (no HTTP)")
    bus.add_argument("--no-relay", action="store_true", help="subscribers only")
    bus.add_argument("--subscriber", action="append", help="run only this subscriber (repeatable)")
    bus.add_argument("--no-subscribers", action="store_true", help="the relay only")
    events = sub.add_parser("events", help="print the event catalogue")
    events.add_argument("--markdown", action="store_true", help="as docs/events.md")
    user = sub.add_parser("user", help="create a user with an API key")
    user.add_argument("email")
    user.add_argument("--role", default="viewer")
    user.add_argument("--name", default="")
    user.add_argument("--password")
    return parser


COMMANDS = {
    "bus": cmd_bus,
    "events": cmd_events,
    "serve": cmd_serve,
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "import": cmd_import,
    "user": cmd_user,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    return COMMANDS[args.command](args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
