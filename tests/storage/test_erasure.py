"""Leaving a project and being forgotten: the Telegram id, name and username leave every
table; the labels stay under the export's pseudonym, or go where the project says so."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from storage.backup import problems
from storage.export import pseudonym
from storage.models import LabelStatus, Project, Role
from storage.quality import QualityStore
from storage.repository import Repository
from tests.conftest import add_project, add_worker

ALICE = 424242


async def label_some(repo: Repository, project: Project, user: int, n: int) -> list[int]:
    samples = []
    for _ in range(n):
        card = await repo.next_card(user, project.id)
        assert card is not None
        outcome = await repo.record_label(card.assignment_id, user, 0)
        assert outcome.status is LabelStatus.RECORDED
        samples.append(card.sample.id)
    return samples


def mentions(path: Path, needle: str) -> list[str]:
    """Every table and column whose text holds `needle` (what an erasure must not leave)."""
    found = []
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            for column in columns:
                hit = db.execute(
                    f"SELECT 1 FROM {table} WHERE CAST({column} AS TEXT) = ?"
                    f" OR CAST({column} AS TEXT) LIKE ? LIMIT 1",
                    (needle, f"%{needle}%"),
                ).fetchone()
                if hit:
                    found.append(f"{table}.{column}")
    return found


async def secret_of(repo: Repository, project: Project) -> bytes:
    row = await repo.one("SELECT secret FROM export_secrets WHERE project_id = ?", (project.id,))
    assert row is not None
    return bytes(row[0])


async def test_forgetting_erases_the_person_and_keeps_the_labels_under_their_pseudonym(
    repo: Repository,
) -> None:
    project = await add_project(repo, 5)
    await add_worker(repo, ALICE, project)
    await repo.upsert_worker(ALICE, "Alicia", "alicia_k", "en")
    await label_some(repo, project, ALICE, 2)
    await repo.next_card(ALICE, project.id)  # a card open when she asks
    await QualityStore(repo).suspend(ALICE, project.id, "too fast", "speed", actor=None)
    await repo.write(
        "INSERT INTO inbox (update_id, data, received_at) VALUES (1, ?, 0)",
        (
            json.dumps(
                {"update_id": 1, "message": {"from": {"id": ALICE, "first_name": "Alicia"}}}
            ),
        ),
    )
    before = pseudonym(await secret_of(repo, project), ALICE)

    done = await repo.forget_worker(ALICE)
    assert (done.known, done.projects, done.labels_kept, done.labels_deleted) == (True, 1, 2, 0)
    await repo.close()
    assert mentions(repo.path, str(ALICE)) == []
    assert mentions(repo.path, "Alicia") == []
    assert mentions(repo.path, "alicia_k") == []
    with sqlite3.connect(repo.path) as db:
        ((erased, name, erased_at),) = db.execute(
            "SELECT id, first_name, erased_at FROM workers WHERE id < 0"
        ).fetchall()
        assert (name, erased_at is not None) == ("", True)
        labels = db.execute(
            "SELECT COUNT(*) FROM labels WHERE worker_id = ? AND retracted_at IS NULL", (erased,)
        ).fetchone()
        assert labels == (2,)
        stored = db.execute(
            "SELECT pseudonym FROM erased_pseudonyms WHERE worker_id = ?", (erased,)
        ).fetchone()
        assert stored == (before,)
        (event,) = db.execute("SELECT data FROM events WHERE kind = 'worker.forgotten'")
        assert json.loads(event[0])["worker"] == erased
        open_cards = db.execute("SELECT COUNT(*) FROM assignments WHERE status = 'open'")
        assert open_cards.fetchone() == (0,)
    assert problems(repo.path) == []
    async with Repository(repo.path) as again:
        assert (await again.forget_worker(ALICE)).known is False  # a replay finds nobody


async def test_forgetting_reaches_the_coordinator_tools_rows(repo: Repository) -> None:
    # A worker who opted out of digests, owes the bot a note, sent a broadcast, has messages
    # sent and queued to them and got a digest: none of it may keep their id.
    project = await add_project(repo, 5)
    await add_worker(repo, ALICE, project)
    await repo.upsert_worker(ALICE, "Alicia", "alicia_k", "en")
    assert await repo.set_digest_optout(ALICE, off=True)
    await repo.write(
        "INSERT INTO pending_replies (user_id, kind, ref, at) VALUES (?, 'note', 1, 0)", (ALICE,)
    )
    await repo.write(
        "INSERT INTO broadcasts (id, project_id, sender_id, status, created_at)"
        " VALUES (7, ?, ?, 'done', 0)",
        (project.id, ALICE),
    )
    for status in ("sent", "queued"):
        await repo.write(
            "INSERT INTO outbox (broadcast_id, chat_id, kind, status, next_at, created_at)"
            " VALUES (7, ?, 'copy', ?, 0, 0)",
            (ALICE, status),
        )
    await repo.write(
        "INSERT INTO digest_sends (project_id, day, user_id, kind, state, at)"
        " VALUES (?, '2026-12-07', ?, 'worker', 'sent', 0)",
        (project.id, ALICE),
    )

    assert (await repo.forget_worker(ALICE)).known
    statuses = await repo.all("SELECT status FROM outbox ORDER BY id")
    await repo.close()
    assert mentions(repo.path, str(ALICE)) == []
    assert [r[0] for r in statuses] == ["sent", "cancelled"]  # nothing more goes to them
    assert problems(repo.path) == []


async def test_a_project_that_says_delete_loses_the_labels_and_labels_again(
    repo: Repository,
) -> None:
    project = await add_project(repo, 3, overlap=1, forget_labels="delete")
    await add_worker(repo, ALICE, project)
    await add_worker(repo, 7, project)
    samples = await label_some(repo, project, ALICE, 2)
    await repo.write(
        "UPDATE samples SET status = 'done' WHERE id IN (?, ?)", (samples[0], samples[1])
    )
    done = await repo.forget_worker(ALICE)
    assert (done.labels_kept, done.labels_deleted) == (0, 2)
    rows = await repo.all(
        "SELECT status, n_labels, need FROM samples WHERE id IN (?, ?)", (samples[0], samples[1])
    )
    assert [tuple(r) for r in rows] == [("open", 0, 1), ("open", 0, 1)]
    # Another worker can label them now.
    again = await label_some(repo, project, 7, 3)
    assert set(samples) <= set(again)
    await repo.close()
    assert mentions(repo.path, str(ALICE)) == []
    assert problems(repo.path) == []


async def test_leaving_ends_the_membership_and_keeps_the_labels(repo: Repository) -> None:
    project = await add_project(repo, 4)
    await add_worker(repo, ALICE, project)
    await label_some(repo, project, ALICE, 1)
    card = await repo.next_card(ALICE, project.id)
    assert card is not None
    assert await repo.leave_project(ALICE, project.id)
    assert await repo.role_of(ALICE, project.id) is None
    assert (await repo.record_label(card.assignment_id, ALICE, 0)).status is LabelStatus.CLOSED
    assert len(await repo.live_labels(project.id)) == 1
    assert not await repo.leave_project(ALICE, project.id)  # once
    worker = await repo.get_worker(ALICE)
    assert worker is not None
    assert worker.current_project_id is None


async def test_a_suspended_worker_cannot_leave_and_come_back_afresh(repo: Repository) -> None:
    from storage.errors import Conflict

    project = await add_project(repo, 4)
    await add_worker(repo, ALICE, project)
    assert await repo.roster_action("suspend", project.id, ALICE, actor=9) == (True, False)
    with pytest.raises(Conflict, match="suspended"):
        await repo.leave_project(ALICE, project.id)
    row = await repo.one(
        "SELECT suspended_at FROM memberships WHERE worker_id = ? AND project_id = ?",
        (ALICE, project.id),
    )
    assert row is not None
    assert row[0] is not None  # still suspended, still a member


COORD = 515151


async def join(repo: Repository, project: Project, user: int, role: Role) -> None:
    await repo.upsert_worker(user, f"U{user}", f"u{user}_name", "en")
    code = await repo.create_invite(project.id, role)
    assert await repo.redeem_invite(code, user)


async def test_forgetting_reaches_decisions_life_broadcast_sources_and_check_summaries(
    repo: Repository,
) -> None:
    # What other features wrote about the person: a guide notice's once-key, the check that
    # suspended them, a report they decided, the project's life they changed, and the
    # message their broadcast copies from their chat.
    project = await add_project(repo, 5)
    await add_worker(repo, ALICE, project)
    await add_worker(repo, 7, project)
    await join(repo, project, COORD, Role.COORDINATOR)
    await label_some(repo, project, ALICE, 1)
    await repo.write(
        "UPDATE projects SET guide_version = guide_version + 1 WHERE id = ?", (project.id,)
    )
    assert await repo.announce_guides("guide_changed", 1.0) == 2  # to Alice and worker 7
    summary = {"method": "mv", "suspended": [ALICE, 7], "flagged": [[ALICE, "too fast"]]}
    await QualityStore(repo).write_changes(project.id, [], summary, 0, 0, 0.1, changes=0)
    card = await repo.next_card(ALICE, project.id)
    assert card is not None
    await repo.close_assignment(card.assignment_id, ALICE, "reported", "broken")
    assert await repo.decide_reports(card.sample.id, "dismissed", actor=COORD) is not None
    await repo.set_project_state(project.id, "paused", actor=COORD)
    sending = await repo.broadcast_compose(project.id, COORD, 1.0)
    assert await repo.broadcast_message(sending, COORD, COORD, 99)
    assert await repo.broadcast_audience(sending, COORD, "all")
    assert await repo.broadcast_start(sending, COORD, 1.0, audience="all") == 2
    draft = await repo.broadcast_compose(project.id, COORD, 2.0)
    assert await repo.broadcast_message(draft, COORD, COORD, 100)

    assert (await repo.forget_worker(ALICE)).known
    assert (await repo.forget_worker(COORD)).known
    alice, coord = -1, -2
    (run,) = await repo.all("SELECT summary FROM quality_runs")
    got = json.loads(run[0])
    assert (got["suspended"], got["flagged"]) == ([alice, 7], [[alice, "too fast"]])
    keys = await repo.all("SELECT chat_id, dedup FROM outbox WHERE dedup LIKE 'guide:%'")
    assert sorted(tuple(r) for r in keys) == [
        (alice, f"guide:{project.id}:2:{alice}"),
        (7, f"guide:{project.id}:2:7"),
    ]
    # Their broadcast copies a message from a chat whose id is gone: it stops.
    states = await repo.all("SELECT id, status, from_chat_id FROM broadcasts ORDER BY id")
    assert [tuple(r) for r in states] == [(sending, "cancelled", coord), (draft, "dropped", coord)]
    queued = await repo.all(
        "SELECT COUNT(*) FROM outbox WHERE broadcast_id = ? AND status = 'queued'", (sending,)
    )
    assert queued[0][0] == 0
    await repo.close()
    for user in (ALICE, COORD):
        assert mentions(repo.path, str(user)) == []
    assert mentions(repo.path, f"u{COORD}_name") == []
    assert problems(repo.path) == []


async def test_a_forgotten_reviewer_or_coordinator_is_no_longer_one(repo: Repository) -> None:
    project = await add_project(repo, 3)
    await join(repo, project, 31, Role.REVIEWER)
    await join(repo, project, 32, Role.COORDINATOR)
    await join(repo, project, 33, Role.COORDINATOR)  # stays
    await add_worker(repo, ALICE, project)
    await QualityStore(repo).suspend(ALICE, project.id, "too fast", "speed", actor=None)
    await repo.write("UPDATE memberships SET idle_since = 1 WHERE project_id = ?", (project.id,))
    for user in (31, 32, ALICE):
        assert (await repo.forget_worker(user)).known
    quality = QualityStore(repo)
    assert await quality.members(project.id, Role.REVIEWER) == []
    assert await quality.members(project.id, Role.COORDINATOR) == [33]
    # What the memberships hold for the labels stays: the suspension.
    rows = await repo.all(
        "SELECT worker_id, role, suspended_at IS NOT NULL, idle_since FROM memberships"
        " WHERE worker_id < 0 ORDER BY worker_id DESC"
    )
    assert [tuple(r) for r in rows] == [
        (-1, "worker", 0, None),
        (-2, "worker", 0, None),
        (-3, "worker", 1, None),
    ]
    # Told "there is work again": nobody under an erased id.
    await repo.queue_idle_with_work("work_again", 5.0)
    chats = await repo.all("SELECT chat_id FROM outbox WHERE kind = 'work_again'")
    assert [r[0] for r in chats] == [33]


async def test_deleting_their_reports_lets_go_of_the_samples_only_they_held(
    repo: Repository,
) -> None:
    project = await add_project(repo, 2, forget_labels="delete", report_hold=1)
    await add_worker(repo, ALICE, project)
    await add_worker(repo, 7, project)
    await add_worker(repo, 8, project)
    mine = await repo.next_card(ALICE, project.id)
    assert mine is not None
    await repo.close_assignment(mine.assignment_id, ALICE, "reported", "broken")
    theirs = await repo.next_card(7, project.id)
    assert theirs is not None
    assert theirs.sample.id != mine.sample.id  # (held: out of the pool)
    await repo.close_assignment(theirs.assignment_id, 7, "reported", "broken")
    assert (await repo.forget_worker(ALICE)).known
    held = await repo.all("SELECT id, held FROM samples ORDER BY id")
    assert {int(r[0]): r[1] for r in held} == {mine.sample.id: None, theirs.sample.id: "held"}
    assert await repo.open_report_count(project.id) == (1, 1)  # (samples, reports)
    card = await repo.next_card(8, project.id)  # back in the pool
    assert card is not None
    assert card.sample.id == mine.sample.id
    await repo.close()
    assert problems(repo.path) == []


async def test_nobody_is_told_anything_at_a_forgotten_person_s_surrogate(repo: Repository) -> None:
    from storage.models import Role

    project = await add_project(repo, 4)
    await add_worker(repo, ALICE, project)
    await add_worker(repo, 7, project)
    await label_some(repo, project, ALICE, 1)
    assert (await repo.forget_worker(ALICE)).known
    assert await QualityStore(repo).members(project.id, Role.WORKER) == [7]
    members, labeled = await repo.digest_audience(project.id, 0.0)
    assert members == {7}
    assert labeled
