"""The import contracts bite: one violation of each kind, planted in a copy of ``src/``, breaks
the contract that names it; the clean copy keeps them all."""

from __future__ import annotations

import importlib.metadata
import itertools
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

DIRECTIONS = (
    "Directions: entry points > wiring > tracking | edge > orders | rules > sourcing > carbon > inventory > forecast"
    " > web > bus > platform > core"
)
INSIDE = "Inside a context: api, pages > service > store > model"
THROUGH_SERVICE = "Routes and pages reach the database through the service, never a store"
PUBLIC_SERVICE = "Contexts talk through each other's service only"
PURE_MODEL = "Domain models are pure: standard library and orderhub.core only"
NO_CYCLES = "No cycles between the modules of a package"

#: (what is planted, file under src/orderhub, line appended, the contract that must break)
VIOLATIONS = [
    ("a model imports sqlalchemy", "carbon/model.py", "import sqlalchemy", PURE_MODEL),
    ("a model imports another context", "carbon/model.py", "from orderhub.inventory import service", PURE_MODEL),
    ("an api imports its store", "sourcing/api.py", "from orderhub.sourcing import store", THROUGH_SERVICE),
    ("a page imports its store", "inventory/pages.py", "from orderhub.inventory import stock", THROUGH_SERVICE),
    ("a store imports its service", "orders/store.py", "from orderhub.orders import service", INSIDE),
    ("carbon imports orders", "carbon/service.py", "from orderhub.orders import service as orders", DIRECTIONS),
    ("orders imports tracking", "orders/service.py", "from orderhub.tracking import service as tracking", DIRECTIONS),
    ("sourcing imports orders", "sourcing/service.py", "import orderhub.orders.service", DIRECTIONS),
    ("inventory imports sourcing", "inventory/service.py", "from orderhub.sourcing import service", DIRECTIONS),
    ("core imports platform", "core/money.py", "from orderhub.platform import db", DIRECTIONS),
    ("a context reads another's store", "orders/service.py", "from orderhub.inventory import store", PUBLIC_SERVICE),
    (
        "two modules of a context import each other",
        "inventory/carts.py",
        "from orderhub.inventory import reservations",
        NO_CYCLES,
    ),
    ("a new package has no place on the map", "ghost/__init__.py", '"""Nowhere on the map."""', DIRECTIONS),
    ("forecast imports inventory", "forecast/service.py", "from orderhub.inventory import service", DIRECTIONS),
]


def broken_contracts(copy: Path) -> set[str]:
    """Run lint-imports on ``copy`` (pyproject.toml + src/); the names of the broken contracts."""
    env = {**os.environ, "PYTHONPATH": str(copy / "src"), "COLUMNS": "300"}
    run = subprocess.run(
        [str(LINT_IMPORTS), "pyproject.toml"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    _, _, report = run.stdout.partition("Broken contracts\n----------------\n")
    lines = [line.strip() for line in report.splitlines()]
    # each broken contract's name is a heading, underlined with as many dashes
    broken = {line for line, under in itertools.pairwise(lines) if line and under == "-" * len(line)}
    assert (run.returncode != 0) == bool(broken), run.stdout + run.stderr
    return broken


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("contracts")
    shutil.copytree(ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")
def test_each_planted_violation_breaks_the_contract_that_names_it(copy: Path) -> None:
    assert broken_contracts(copy) == set(), "the clean copy must keep every contract"
    missed = []
    for what, file, line, contract in VIOLATIONS:
        path = copy / "src" / "orderhub" / file
        before = path.read_text() if path.exists() else None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((before or "") + f"\n{line}\n")
        try:
            broken = broken_contracts(copy)
        finally:
            if before is None:
                shutil.rmtree(path.parent)
            else:
                path.write_text(before)
        if contract not in broken:
            missed.append(f"{what}: {contract!r} kept (broken: {sorted(broken)})")
    assert missed == []
    assert broken_contracts(copy) == set()


def _installed_top_levels() -> set[str]:
    """Import names of every distribution orderhub[dev] pulls in, transitively."""
    by_dist: dict[str, set[str]] = {}
    for name, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            by_dist.setdefault(dist.lower().replace("_", "-"), set()).add(name)
    seen: set[str] = set()
    todo = ["orderhub"]
    while todo:
        dist = todo.pop()
        try:
            requires = importlib.metadata.distribution(dist).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for req in requires:
            name, _, marker = req.partition(";")
            if "extra" in marker and (dist != "orderhub" or '"dev"' not in marker):
                continue
            dep = re.split(r"[\s\[<>=!~;(]", name.strip(), maxsplit=1)[0].lower().replace("_", "-")
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    names = {n for dist in seen for n in by_dist.get(dist, set())}
    return {n for n in names if n.isidentifier() and not n.startswith("_") and n not in sys.stdlib_module_names}


def test_models_are_forbidden_every_installed_third_party_package() -> None:
    try:
        importlib.metadata.distribution("orderhub")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("orderhub is not installed: its dependencies are unknown")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [pure] = [c for c in config["contracts"] if c["name"] == PURE_MODEL]
    missing = _installed_top_levels() - set(pure["forbidden_modules"])
    assert missing == set(), f"add to the {PURE_MODEL!r} contract: {sorted(missing)}"
