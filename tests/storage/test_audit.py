"""The audit log's read side: filters, names instead of bare ids, streaming."""

from __future__ import annotations

import json
import time

from services.audit import event_json, event_line
from storage.audit import AuditQuery, event_kinds, read_events
from storage.models import LabelStatus
from storage.quality import QualityStore
from storage.repository import Repository
from tests.conftest import add_project, add_worker


async def test_events_come_with_names_and_filter_by_project_kind_worker_and_time(
    repo: Repository,
) -> None:
    colours = await add_project(repo, 3)
    other = await add_project(repo, 2, name="Other", slug="other")
    await add_worker(repo, 1001, colours)
    await repo.upsert_worker(1001, "Alice", "alice", "en")
    await add_worker(repo, 1002, other)
    card = await repo.next_card(1001, colours.id)
    assert card is not None
    outcome = await repo.record_label(card.assignment_id, 1001, 2)  # blue
    assert outcome.status is LabelStatus.RECORDED
    await QualityStore(repo).suspend(1001, colours.id, "too fast", "speed", actor=7)
    await repo.upsert_worker(7, "Coco", None, "ko")

    every = list(read_events(repo.path, AuditQuery()))
    assert [e.id for e in every] == sorted(e.id for e in every)  # oldest first
    assert {e.project for e in every} >= {"colours", "other"}

    labels = list(read_events(repo.path, AuditQuery(project_id=colours.id, kind="label")))
    assert [e.kind for e in labels] == ["label.recorded"]
    (label,) = labels
    assert label.actor is not None
    assert label.actor.label() == "Alice (@alice, 1001)"
    assert label.names == {"sample": card.sample.ext_id, "option": "blue"}
    line = event_line(label)
    assert "Alice (@alice, 1001)" in line
    assert f"sample {card.sample.ext_id}" in line
    assert "option blue" in line

    (suspended,) = read_events(repo.path, AuditQuery(kind="worker.suspended"))
    assert suspended.actor is not None
    assert suspended.actor.label() == "Coco (7)"
    assert "worker Alice (@alice, 1001)" in event_line(suspended)
    record = event_json(suspended)
    assert record["worker"] == {"id": 1001, "name": "Alice", "username": "alice"}
    assert record["data"]["reason"] == "too fast"
    json.dumps(record)  # it is JSON

    alices = list(read_events(repo.path, AuditQuery(worker=1001)))
    assert {e.kind for e in alices} == {"member.joined", "label.recorded", "worker.suspended"}
    assert all(1002 not in (e.actor.id if e.actor else None, *e.people) for e in alices)

    assert list(read_events(repo.path, AuditQuery(since=time.time() + 60))) == []
    newest = list(read_events(repo.path, AuditQuery(limit=2, newest_first=True)))
    assert [e.id for e in newest] == sorted((e.id for e in every), reverse=True)[:2]
    # "label" is a family; "labe" matches nothing, and the refusal can list the kinds.
    assert list(read_events(repo.path, AuditQuery(kind="labe"))) == []
    assert "label.recorded" in event_kinds(repo.path)


async def test_a_person_the_bot_does_not_know_shows_as_an_id(repo: Repository) -> None:
    await repo.log_event("worker.suspended", actor=None, data={"worker": 555, "reason": "x"})
    (event,) = read_events(repo.path, AuditQuery(kind="worker"))
    assert event.actor is None
    assert "worker 555" in event_line(event)
    assert event_line(event).split("  ")[3] == "bot"
