"""The audit log as people read it: one line per event, or JSON lines; with names, or with
the pseudonyms the project's exports use.

`labelgram audit` and the bot's /audit both render events from `storage.audit.read_events`
with these, so the two show the same thing. Telegram user ids are personal data: a file
export of the log (`labelgram audit`) shows pseudonyms unless asked for ids and names; the
bot shows its coordinators the names (`pseudonyms` False, the default here).
"""

from __future__ import annotations

import json
import time
from typing import Any

from storage.audit import PERSON_KEYS, AuditEvent

# Data keys shown through what they name (a person, a sample's or an option's own id).
_SKIP = {*PERSON_KEYS, "sample", "option"}
# A person without a pseudonym: in an event outside any project, or of a deleted project.
NOBODY = "someone"


def event_line(event: AuditEvent, *, project: bool = True, pseudonyms: bool = False) -> str:
    """'2026-12-07 11:02:03  label.recorded  Alice (@alice, 1001)  sample s17 option red';
    with `pseudonyms`, 'w-3f2a…' for the person (`NOBODY` where there is none)."""
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.at))
    who = "bot"
    if event.actor is not None:
        who = _mask(event, event.actor.id) if pseudonyms else event.actor.label()
    parts = [at]
    if project:
        parts.append(event.project or "-")
    parts += [event.kind, who]
    details = [
        f"{key} {_mask(event, person.id) if pseudonyms else person.label()}"
        for key, person in _people(event)
    ]
    details += [f"{key} {name}" for key, name in event.names.items()]
    details += [f"{key} {_value(value)}" for key, value in event.data.items() if key not in _SKIP]
    if details:
        parts.append(", ".join(details))
    return "  ".join(parts)


def event_json(event: AuditEvent, *, pseudonyms: bool = False) -> dict[str, Any]:
    """The event as one JSON object: ids and names side by side, or with `pseudonyms`
    {"pseudonym": "w-…"} (null where there is none) for each person, in `data` too."""
    data = dict(event.data)
    record: dict[str, Any] = {
        "id": event.id,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(event.at)),
        "kind": event.kind,
        "project": event.project,
        "actor": None,
        "data": data,
    }
    if pseudonyms:
        for key, value in event.data.items():
            if key in PERSON_KEYS and isinstance(value, int):
                data[key] = event.pseudonyms.get(value)
                record[key] = {"pseudonym": event.pseudonyms.get(value)}
        if event.actor is not None:
            record["actor"] = {"pseudonym": event.pseudonyms.get(event.actor.id)}
    else:
        if event.actor is not None:
            record["actor"] = _person(event.actor.id, event.actor.name, event.actor.username)
        for key, person in _people(event):
            record[key] = _person(person.id, person.name, person.username)
    for key, name in event.names.items():
        record[f"{key}_name"] = name
    return record


def _mask(event: AuditEvent, person_id: int) -> str:
    return event.pseudonyms.get(person_id, NOBODY)


def _people(event: AuditEvent) -> list[tuple[str, Any]]:
    return [
        (key, event.people[value])
        for key, value in event.data.items()
        if isinstance(value, int) and value in event.people and key in PERSON_KEYS
    ]


def _person(person_id: int, name: str, username: str | None) -> dict[str, Any]:
    return {"id": person_id, "name": name, "username": username}


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
