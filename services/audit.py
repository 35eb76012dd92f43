"""The audit log as people read it: one line per event with names, or JSON lines.

`labelgram audit` and the bot's /audit both render events from `storage.audit.read_events`
with these, so the two show the same thing.
"""

from __future__ import annotations

import json
import time
from typing import Any

from storage.audit import AuditEvent

# Data keys shown through what they name (a person, a sample's or an option's own id).
_SKIP = {"worker", "reviewer", "by", "sample", "option"}


def event_line(event: AuditEvent, *, project: bool = True) -> str:
    """'2026-12-07 11:02:03  label.recorded  Alice (@alice, 1001)  sample s17 option red'."""
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.at))
    who = event.actor.label() if event.actor is not None else "bot"
    parts = [at]
    if project:
        parts.append(event.project or "-")
    parts += [event.kind, who]
    details = [f"{key} {person.label()}" for key, person in _people(event)]
    details += [f"{key} {name}" for key, name in event.names.items()]
    details += [f"{key} {_value(value)}" for key, value in event.data.items() if key not in _SKIP]
    if details:
        parts.append(", ".join(details))
    return "  ".join(parts)


def event_json(event: AuditEvent) -> dict[str, Any]:
    """The event as one JSON object (ids and names side by side)."""
    record: dict[str, Any] = {
        "id": event.id,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(event.at)),
        "kind": event.kind,
        "project": event.project,
        "actor": None,
        "data": event.data,
    }
    if event.actor is not None:
        record["actor"] = _person(event.actor.id, event.actor.name, event.actor.username)
    for key, person in _people(event):
        record[key] = _person(person.id, person.name, person.username)
    for key, name in event.names.items():
        record[f"{key}_name"] = name
    return record


def _people(event: AuditEvent) -> list[tuple[str, Any]]:
    return [
        (key, event.people[value])
        for key, value in event.data.items()
        if isinstance(value, int) and value in event.people and key in _SKIP
    ]


def _person(person_id: int, name: str, username: str | None) -> dict[str, Any]:
    return {"id": person_id, "name": name, "username": username}


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
