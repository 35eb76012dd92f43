"""The outbox in a real SQLite file: audiences, Send once, claims, outcomes, crash recovery,
cancelling, merged and once-only notices, guide announcements, and the queries' indexes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.models import Project, Role, SampleIn
from storage.outbox import audience_ok
from storage.repository import Repository
from tests.conftest import make_spec

NOW = 1_000_000.0


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[Repository]:
    r = Repository(tmp_path / "outbox.db")
    await r.open()
    yield r
    await r.close()


async def crowd(repo: Repository) -> Project:
    """Workers 1-4 (3 and 4 Korean), reviewer 7, coordinator 9; worker 1 labeled today."""
    project = await repo.create_project(make_spec())
    await repo.import_samples(
        project.id, [SampleIn(ext_id=f"s{i}", text=f"t{i}") for i in range(3)]
    )
    worker = await repo.create_invite(project.id, Role.WORKER)
    for uid in (1, 2, 3, 4):
        await repo.upsert_worker(uid, f"W{uid}", None, "ko" if uid >= 3 else "en")
        await repo.redeem_invite(worker, uid)
    await repo.upsert_worker(7, "R", None, "en")
    await repo.redeem_invite(await repo.create_invite(project.id, Role.REVIEWER), 7)
    await repo.upsert_worker(9, "C", None, "en")
    await repo.redeem_invite(await repo.create_invite(project.id, Role.COORDINATOR), 9)
    card = await repo.next_card(1, project.id)
    assert card is not None
    await repo.record_label(card.assignment_id, 1, 0)
    # ... labeled 100 s before NOW (the tests' clock)
    await repo.db.execute("UPDATE labels SET answered_at = ?", (NOW - 100,))
    return project


async def draft(repo: Repository, project: Project, audience: str) -> int:
    bid = await repo.broadcast_compose(project.id, 9, NOW)
    assert await repo.broadcast_message(bid, 9, 9, 42)
    assert await repo.broadcast_audience(bid, 9, audience)
    return bid


@pytest.mark.parametrize(
    ("audience", "count"),
    [
        ("all", 4),
        ("active:1", 1),
        ("idle:7", 3),
        ("reviewers", 1),
        ("lang:ko", 2),
        ("lang:en", 2),
    ],
)
async def test_audiences_count_their_members(repo: Repository, audience: str, count: int) -> None:
    project = await crowd(repo)
    assert await repo.audience_count(project.id, audience, NOW) == count


def test_only_offered_audiences_are_accepted() -> None:
    assert audience_ok("active:7")
    for bad in ("active:5", "lang:de", "all:1", "everyone", "idle:", "reviewers:x", ""):
        assert not audience_ok(bad), bad


async def test_send_queues_one_row_per_recipient_once(repo: Repository) -> None:
    project = await crowd(repo)
    bid = await draft(repo, project, "all")
    assert await repo.broadcast_start(bid, 9, NOW, audience="lang:ko") is None  # not previewed
    assert await repo.broadcast_start(bid, 9, NOW, audience="all") == 4
    assert await repo.broadcast_start(bid, 9, NOW, audience="all") is None  # a second press
    assert await repo.broadcast_start(bid, 8, NOW, audience="all") is None  # not the sender's
    rows = await repo.outbox_due(NOW, 100)
    assert sorted(r.chat_id for r in rows) == [1, 2, 3, 4]
    assert {(r.from_chat_id, r.message_id, r.kind) for r in rows} == {(9, 42, "copy")}
    found = await repo.get_broadcast(bid)
    assert found is not None
    assert (found.status, found.total, found.waiting) == ("sending", 4, 4)
    # A changed audience after Send changes nothing.
    assert not await repo.broadcast_audience(bid, 9, "lang:ko")


async def test_a_draft_is_needed_before_send_and_a_new_compose_drops_the_old(
    repo: Repository,
) -> None:
    project = await crowd(repo)
    first = await repo.broadcast_compose(project.id, 9, NOW)
    assert await repo.broadcast_start(first, 9, NOW, audience="all") is None  # no message
    assert await repo.composing(NOW) == {9: first}
    second = await repo.broadcast_compose(project.id, 9, NOW)
    assert await repo.composing(NOW) == {9: second}
    assert not await repo.broadcast_message(first, 9, 9, 1)  # dropped
    assert await repo.composing(NOW + 7200) == {}  # a stale prompt is given up


async def test_outcomes_recovery_and_the_report(repo: Repository) -> None:
    project = await crowd(repo)
    bid = await draft(repo, project, "all")
    await repo.broadcast_start(bid, 9, NOW, audience="all")
    one, two, three, four = await repo.outbox_due(NOW, 100)
    assert await repo.outbox_claim(one.id)
    assert not await repo.outbox_claim(one.id)  # in flight already
    await repo.outbox_done(one.id, "sent", NOW, message_id=5)
    assert await repo.outbox_claim(two.id)
    await repo.outbox_done(two.id, "unreachable", NOW, error="Forbidden: bot was blocked")
    assert await repo.outbox_claim(three.id)
    await repo.outbox_retry(three.id, NOW + 30, "flood limit")
    assert [r.id for r in await repo.outbox_due(NOW, 100)] == [four.id]  # three: later
    assert await repo.outbox_claim(four.id)
    # A crash: four was in flight. It goes again, flagged.
    assert await repo.outbox_recover() == 1
    assert await repo.finish_broadcasts(NOW) == []  # three and four are still to go
    for row in (three, four):
        assert await repo.outbox_claim(row.id)
        await repo.outbox_done(row.id, "sent", NOW + 40, message_id=6)
    assert await repo.finish_broadcasts(NOW + 41) == [bid]
    assert await repo.finish_broadcasts(NOW + 42) == []
    found = await repo.get_broadcast(bid)
    assert found is not None
    assert (found.status, found.sent, found.unreachable, found.maybe_twice) == ("done", 3, 1, 1)
    assert found.seconds == pytest.approx(41)
    unreachable = await repo.all("SELECT id FROM workers WHERE unreachable_at IS NOT NULL")
    assert [r[0] for r in unreachable] == [2]
    # The report to the sender is queued once.
    reports = [r for r in await repo.outbox_due(NOW + 50, 100) if r.kind == "broadcast_report"]
    assert [(r.chat_id, r.payload) for r in reports] == [(9, {"broadcast": bid})]
    with pytest.raises(ValueError, match="final"):
        await repo.outbox_done(one.id, "queued", NOW)


async def test_cancel_stops_what_is_queued_and_reports(repo: Repository) -> None:
    project = await crowd(repo)
    bid = await draft(repo, project, "all")
    await repo.broadcast_start(bid, 9, NOW, audience="all")
    first = (await repo.outbox_due(NOW, 1))[0]
    assert await repo.outbox_claim(first.id)
    assert await repo.broadcast_cancel(bid, NOW + 1) == 3
    assert await repo.broadcast_cancel(bid, NOW + 2) is None
    assert not [r for r in await repo.outbox_due(NOW + 5, 100) if r.kind == "copy"]
    await repo.outbox_done(first.id, "sent", NOW + 1, message_id=1)  # in flight: finishes
    found = await repo.get_broadcast(bid)
    assert found is not None
    assert (found.status, found.sent, found.cancelled, found.waiting) == ("cancelled", 1, 3, 0)
    recent = await repo.recent_broadcasts([project.id])
    assert [b.id for b in recent] == [bid]
    assert await repo.recent_broadcasts([project.id + 1]) == []


async def test_notices_once_and_merged(repo: Repository) -> None:
    await crowd(repo)
    assert await repo.queue_notices([1, 2], "guide_updated", {"project": 1}, NOW, once="g1") == 2
    assert await repo.queue_notices([1, 2], "guide_updated", {"project": 1}, NOW, once="g1") == 0
    await repo.queue_notices([7], "review_waiting", {"project": 1, "n": 1}, NOW, merge="r1")
    await repo.queue_notices([7], "review_waiting", {"project": 1, "n": 2}, NOW, merge="r1")
    waiting = [r for r in await repo.outbox_due(NOW, 100) if r.kind == "review_waiting"]
    assert [r.payload for r in waiting] == [{"project": 1, "n": 2}]
    assert await repo.outbox_claim(waiting[0].id)
    await repo.outbox_done(waiting[0].id, "sent", NOW, message_id=3)
    await repo.queue_notices([7], "review_waiting", {"project": 1, "n": 3}, NOW, merge="r1")
    again = [r for r in await repo.outbox_due(NOW, 100) if r.kind == "review_waiting"]
    assert [r.payload for r in again] == [{"project": 1, "n": 3}]  # a new notice once sent


async def test_guides_are_announced_once_per_new_version(repo: Repository) -> None:
    project = await crowd(repo)
    assert await repo.announce_guides("guide_updated", NOW) == 0  # nothing changed
    await repo.db.execute(
        "UPDATE projects SET guide_version = guide_version + 1 WHERE id = ?", (project.id,)
    )
    assert await repo.announce_guides("guide_updated", NOW) == 4  # the workers, not 7 or 9
    assert await repo.announce_guides("guide_updated", NOW) == 0
    rows = [r for r in await repo.outbox_due(NOW, 100) if r.kind == "guide_updated"]
    assert sorted(r.chat_id for r in rows) == [1, 2, 3, 4]
    await repo.create_project(make_spec(slug="second", name="Second"))
    assert await repo.announce_guides("guide_updated", NOW) == 0  # a new project: no news


async def test_idle_workers_with_work_are_queued_once(repo: Repository) -> None:
    project = await crowd(repo)
    await repo.mark_idle(1, project.id, NOW)
    assert await repo.queue_idle_with_work("more_work", NOW) == 1
    assert await repo.queue_idle_with_work("more_work", NOW) == 0
    rows = [r for r in await repo.outbox_due(NOW, 100) if r.kind == "more_work"]
    assert [(r.chat_id, r.payload) for r in rows] == [(1, {"project": project.id})]


async def test_the_senders_queries_use_their_indexes(repo: Repository) -> None:
    await crowd(repo)
    plans = {
        "due": "SELECT id FROM outbox WHERE status = 'queued' AND id > 0 AND next_at <= 1"
        " ORDER BY id LIMIT 10",
        "claim": "UPDATE outbox SET status = 'sending' WHERE id = 1 AND status = 'queued'",
        "progress": "SELECT status, COUNT(*) FROM outbox WHERE broadcast_id = 1 GROUP BY status",
    }
    for name, sql in plans.items():
        plan = " ".join(str(r[3]) for r in await repo.all(f"EXPLAIN QUERY PLAN {sql}"))
        assert "SCAN outbox" not in plan or "USING" in plan, (name, plan)
    due = " ".join(str(r[3]) for r in await repo.all(f"EXPLAIN QUERY PLAN {plans['due']}"))
    assert "outbox_queued" in due
