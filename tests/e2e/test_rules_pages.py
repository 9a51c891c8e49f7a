"""The rules console over HTTP, without a browser: the editor form the page renders, posted
back as it is, saves exactly the table it showed (for every template: tables, approval flows,
timers); refused tables come back 422 with the problem at its cell; viewers and forged forms
change nothing. On SQLite only: the pages add no SQL of their own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from orderhub.app import create_app
from orderhub.platform.auth import service as auth
from orderhub.platform.settings import Settings
from orderhub.rules import logs, templates
from orderhub.rules import service as rules
from orderhub.rules.model import validate


class EditorForm(HTMLParser):
    """The fields a browser would post from the rule editor form: its inputs, and each
    select's selected option (else its first), by value or else by text."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._inside = False
        self._select: str | None = None
        self._options: list[list[Any]] = []  # [value or None, selected, text]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self._inside = a.get("data-testid") == "rule-editor"
        elif self._inside and tag == "input" and a.get("name"):
            self.fields[str(a["name"])] = a.get("value") or ""
        elif self._inside and tag == "select":
            self._select, self._options = str(a["name"]), []
        elif self._select is not None and tag == "option":
            self._options.append([a.get("value"), "selected" in a, ""])

    def handle_data(self, data: str) -> None:
        if self._select is not None and self._options:
            self._options[-1][2] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "select" and self._select is not None:
            chosen = next((o for o in self._options if o[1]), self._options[0] if self._options else None)
            if chosen:
                self.fields[self._select] = chosen[0] if chosen[0] is not None else chosen[2].strip()
            self._select = None


def editor_fields(html: str) -> dict[str, str]:
    parser = EditorForm()
    parser.feed(html)
    return parser.fields


@pytest.fixture
def console(sqlite_engine: Engine) -> Iterator[TestClient]:
    for role in ("editor", "viewer"):
        auth.create_user(sqlite_engine, email=f"{role}@shop.test", name=role, role=role, password="secret-pw")
    with TestClient(create_app(Settings(env="test", run_jobs=False, run_bus=False), engine=sqlite_engine)) as client:
        yield client


def log_in(client: TestClient, email: str) -> str:
    """Log in through the form; returns the session's CSRF token."""
    client.cookies.clear()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    answer = client.post("/login", data={"email": email, "password": "secret-pw", "csrf_token": token.group(1)})
    assert answer.status_code == 200
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', answer.text)
    assert csrf
    return csrf.group(1)


def create(client: TestClient, token: str, template: str) -> str:
    answer = client.post(
        "/console/rules",
        data={"csrf_token": token, "name": f"from {template}", "template": template},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"]).rsplit("/", 1)[1]


@pytest.mark.parametrize("key", [t["key"] for t in templates.get_all()])
def test_the_editor_form_posted_back_unchanged_saves_the_table_it_showed(
    console: TestClient, sqlite_engine: Engine, key: str
) -> None:
    token = log_in(console, "editor@shop.test")
    set_id = create(console, token, key)
    fields = editor_fields(console.get(f"/console/rules/{set_id}").text)
    saved = console.post(f"/console/rules/{set_id}/draft", data=fields, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    template = templates.get(key)
    expected, _ = validate(template["hook"], template["content"])
    assert rules.get_version(sqlite_engine, set_id=set_id, number=1)["content"] == expected.as_content()


def test_an_editing_move_answers_htmx_with_the_editor_alone_and_stores_nothing(
    console: TestClient, sqlite_engine: Engine
) -> None:
    token = log_in(console, "editor@shop.test")
    set_id = create(console, token, "regional-approval")
    fields = editor_fields(console.get(f"/console/rules/{set_id}").text)
    moved = console.post(
        f"/console/rules/{set_id}/editor",
        data={**fields, "op": "add_step:0"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert moved.status_code == 200 and moved.text.startswith('<div class="card" id="editor">')
    assert "flow-0-step-1-role" in editor_fields(moved.text)
    steps = rules.get_version(sqlite_engine, set_id=set_id, number=1)["content"]["flows"]["regional-manager"]["steps"]
    assert len(steps) == 1


def test_a_refused_table_comes_back_422_with_the_problem_at_its_cell_and_nothing_saved(
    console: TestClient, sqlite_engine: Engine
) -> None:
    token = log_in(console, "editor@shop.test")
    set_id = create(console, token, "regional-approval")
    fields = editor_fields(console.get(f"/console/rules/{set_id}").text)
    bad = {**fields, "row-0-when-1": "lots", "flow-0-step-0-timeout_minutes": "soon"}
    refused = console.post(f"/console/rules/{set_id}/draft", data=bad)
    assert refused.status_code == 422
    problems = dict(re.findall(r'<div class="field-error" id="err-([^"]+)">([^<]*)</div>', refused.text))
    assert problems == {
        "row-0-when-1": "&#39;lots&#39; is not a number condition (&gt; 5, &lt;= 10, [1..5], 7)",
        "flow-0-step-0-timeout_minutes": "minutes between 1 and 30 days, or none",
    }
    assert editor_fields(refused.text)["row-0-when-1"] == "lots"  # what was typed is kept
    assert rules.get_version(sqlite_engine, set_id=set_id, number=1)["content"]["rows"][0]["when"][1] == "> 500"


def test_a_viewer_and_a_forged_form_change_nothing(console: TestClient, sqlite_engine: Engine) -> None:
    token = log_in(console, "editor@shop.test")
    set_id = create(console, token, "fraud-hold")
    fields = editor_fields(console.get(f"/console/rules/{set_id}").text)
    forged = console.post(
        f"/console/rules/{set_id}/draft", data={**fields, "csrf_token": "not-it", "row-0-when-0": "> 1"}
    )
    assert forged.status_code == 403
    viewer = log_in(console, "viewer@shop.test")
    page = console.post(
        f"/console/rules/{set_id}/draft", data={**fields, "csrf_token": viewer, "row-0-when-0": "> 1"}
    ).text
    assert "this needs the editor role; you have viewer" in page
    assert 'data-testid="rule-editor"' not in page
    versions: list[dict[str, Any]] = rules.get(sqlite_engine, set_id)["versions"]
    assert [(v["number"], v["content"]["rows"][0]["when"][0]) for v in versions] == [(1, "> 2000")]
    assert [a["action"] for a in logs.get_audit(sqlite_engine, set_id=set_id)] == ["created"]
