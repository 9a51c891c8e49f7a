"""The template library: ready rule sets a business user copies and adapts (data, in
``data/templates.json``; each one validates like any rule set — a test checks them all)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from orderhub.core.errors import NotFound


@cache
def get_all() -> list[dict[str, Any]]:
    """Every template: key, name, hook, description and the rule set's content."""
    text = resources.files("orderhub.rules").joinpath("data/templates.json").read_text(encoding="utf-8")
    data: list[dict[str, Any]] = json.loads(text)
    return data


def get(key: str) -> dict[str, Any]:
    for template in get_all():
        if template["key"] == key:
            copy: dict[str, Any] = json.loads(json.dumps(template))  # a copy the caller may change
            return copy
    raise NotFound(f"no rule template {key!r}", code="rule_template_not_found", key=key)
