"""`make demo` says what it is doing and serves on $PORT (issue 16, item 9)."""

import shutil
import subprocess
from datetime import date
from pathlib import Path

from orderhub.demo import seed
from orderhub.platform.db import create_db_engine

ROOT = Path(__file__).resolve().parents[2]


def test_seed_reports_each_step_and_the_history_as_it_goes(tmp_path, sqlite_template):
    shutil.copy(sqlite_template, tmp_path / "d.db")
    engine = create_db_engine(f"sqlite:///{tmp_path / 'd.db'}")
    heard: list[str] = []
    seed(engine, days=40, seed=3, today=date(2026, 11, 20), progress=heard.append)
    assert heard[0] == "demo: users, rules, nodes, items and customers …"
    assert [h.split(",")[0] for h in heard if "history" in h and "/" in h] == [
        "demo: order history 0/40 days",
        "demo: order history 30/40 days",
    ]
    assert heard[-1] == "demo: carbon roll-ups …"
    engine.dispose()


def test_make_demo_honours_port_and_announces_the_install():
    plan = subprocess.run(
        ["make", "-n", "-B", "demo", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert "--port 8123" in plan and "installing OrderHub" in plan
