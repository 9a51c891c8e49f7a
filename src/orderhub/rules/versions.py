"""Versions of a rule set compared: what changed between any two (pure)."""

from __future__ import annotations

from typing import Any

SETTINGS = ("hit_policy", "inputs", "outputs", "flows", "timers", "default")


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Settings that changed, and rows added, removed or changed (rows are matched by id; a
    row whose conditions or outcomes differ is ``changed``, with both sides)."""
    settings = [
        {"field": key, "before": before.get(key), "after": after.get(key)}
        for key in SETTINGS
        if (before.get(key) or None) != (after.get(key) or None)
    ]
    old = {r["id"]: r for r in before.get("rows") or []}
    new = {r["id"]: r for r in after.get("rows") or []}
    added = [new[i] for i in new if i not in old]
    removed = [old[i] for i in old if i not in new]
    changed = [
        {"id": i, "before": old[i], "after": new[i]}
        for i in new
        if i in old
        and (old[i].get("when"), old[i].get("then"), old[i].get("note"))
        != (new[i].get("when"), new[i].get("then"), new[i].get("note"))
    ]
    moved = [i for i in new if i in old] != [i for i in old if i in new]
    return {
        "settings": settings,
        "added": added,
        "removed": removed,
        "changed": changed,
        "reordered": moved,
        "same": not (settings or added or removed or changed or moved),
    }
