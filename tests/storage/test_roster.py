"""The roster's storage: invites with limits, flags told once per change, actions once per
update, handles, and the indexes the roster's reads walk."""

from __future__ import annotations

import time

import pytest

from storage.errors import NotFound
from storage.models import Role
from storage.projects import InviteRefused
from storage.quality import QualityStore
from storage.repository import Repository
from tests.conftest import add_project, add_worker


async def test_invite_codes_show_their_role_and_defaults(repo: Repository) -> None:
    project = await add_project(repo, 1)
    worker = await repo.create_invite(project.id, Role.WORKER)
    reviewer = await repo.create_invite(project.id, Role.REVIEWER)
    coord = await repo.create_invite(project.id, Role.COORDINATOR, days=0, uses=0)
    assert worker.startswith("worker-")
    assert reviewer.startswith("reviewer-")
    assert coord.startswith("coord-")
    listed = {i.code: i for i in await repo.invites([project.id])}
    assert listed[worker].max_uses is None
    assert listed[worker].expires_at == pytest.approx(time.time() + 30 * 86400, abs=60)
    assert listed[reviewer].max_uses == 1
    assert listed[coord].expires_at is None
    assert listed[coord].max_uses is None


async def test_a_use_limit_counts_new_members_and_replays_once(repo: Repository) -> None:
    project = await add_project(repo, 1)
    for uid in (1, 2, 3):
        await repo.upsert_worker(uid, f"U{uid}", None, "en")
    code = await repo.create_invite(project.id, Role.WORKER, uses=1)
    await repo.redeem_invite(code, 1, update_id=10)
    await repo.redeem_invite(code, 1, update_id=10)  # the same /start again
    await repo.redeem_invite(code, 1, update_id=11)  # a member opening it again: no use
    with pytest.raises(InviteRefused) as refused:
        await repo.redeem_invite(code, 2, update_id=12)
    assert refused.value.why == "used_up"
    assert await repo.role_of(2, project.id) is None
    row = await repo.one("SELECT uses FROM invites WHERE code = ?", (code,))
    assert row is not None
    assert row[0] == 1
    assert code not in {i.code for i in await repo.invites([project.id])}


async def test_expired_and_revoked_invites_let_no_one_in(repo: Repository) -> None:
    project = await add_project(repo, 1)
    await repo.upsert_worker(1, "U1", None, "en")
    late = await repo.create_invite(project.id, Role.WORKER)
    await repo.write("UPDATE invites SET expires_at = ? WHERE code = ?", (time.time() - 1, late))
    with pytest.raises(InviteRefused) as refused:
        await repo.redeem_invite(late, 1)
    assert refused.value.why == "expired"
    gone = await repo.create_invite(project.id, Role.WORKER)
    (made,) = [i for i in await repo.invites([project.id]) if i.code == gone]
    assert await repo.revoke_invite(made.seq, actor=9)
    assert not await repo.revoke_invite(made.seq, actor=9)  # once
    with pytest.raises(InviteRefused) as refused:
        await repo.redeem_invite(gone, 1)
    assert refused.value.why == "revoked"
    assert isinstance(refused.value, NotFound)  # older callers still see "not valid"
    events = await repo.all("SELECT COUNT(*) FROM events WHERE kind = 'invite.revoked'")
    assert events[0][0] == 1


async def test_no_link_lowers_a_role_but_a_higher_one_raises_it(repo: Repository) -> None:
    project = await add_project(repo, 1)
    await repo.upsert_worker(1, "U1", None, "en")
    worker = await repo.create_invite(project.id, Role.WORKER)
    reviewer = await repo.create_invite(project.id, Role.REVIEWER)
    coord = await repo.create_invite(project.id, Role.COORDINATOR)
    assert (await repo.redeem_invite(worker, 1))[1] is Role.WORKER
    assert (await repo.redeem_invite(reviewer, 1))[1] is Role.REVIEWER
    assert (await repo.redeem_invite(worker, 1))[1] is Role.REVIEWER
    assert (await repo.redeem_invite(coord, 1))[1] is Role.COORDINATOR
    assert (await repo.redeem_invite(reviewer, 1))[1] is Role.COORDINATOR
    assert (await repo.redeem_invite(worker, 1))[1] is Role.COORDINATOR


async def test_flags_are_told_once_until_they_change(repo: Repository) -> None:
    project = await add_project(repo, 1)
    await add_worker(repo, 1, project)
    await add_worker(repo, 2, project)
    run = "the same option 16 times in a row (>= 15)"
    fast = "60% of the last 50 answers were too fast (>= 50%)"
    assert await repo.record_flags(project.id, [(1, run)], now=1.0) == [(1, run)]
    # The same rule with other figures is the same flag: not told again.
    longer = "the same option 18 times in a row (>= 15)"
    assert await repo.record_flags(project.id, [(1, longer)], now=2.0) == []
    # Another rule is news; the first stays open.
    assert await repo.record_flags(project.id, [(1, longer), (2, fast)], now=3.0) == [(2, fast)]
    # A check without the flag closes it; when it comes back it is told again.
    assert await repo.record_flags(project.id, [(2, fast)], now=4.0) == []
    assert await repo.record_flags(project.id, [(1, run), (2, fast)], now=5.0) == [(1, run)]
    flags = await repo.recent_flags(project.id, 1)
    assert [f.cleared_at for f in flags] == [None, 4.0]


async def test_roster_actions_happen_once_per_update(repo: Repository) -> None:
    project = await add_project(repo, 3)
    await add_worker(repo, 1, project)
    assert await repo.roster_action("suspend", project.id, 1, actor=9, update_id=5) == (
        True,
        False,
    )
    assert await repo.roster_action("suspend", project.id, 1, actor=9, update_id=5) == (True, True)
    assert await repo.roster_action("suspend", project.id, 1, actor=9, update_id=6) == (
        False,
        False,
    )
    # The worker's notice is queued with the change, once: not for the replay, not for the
    # press that changed nothing.
    told = await repo.all("SELECT chat_id, kind, payload FROM outbox")
    assert [tuple(r) for r in told] == [
        (1, "roster", f'{{"project": {project.id}, "action": "suspend"}}')
    ]
    assert await repo.roster_action("reinstate", project.id, 1, actor=9, update_id=7) == (
        True,
        False,
    )
    assert await repo.roster_action("remove", project.id, 1, actor=9, update_id=8) == (
        True,
        False,
    )
    assert await repo.role_of(1, project.id) is None
    # A coordinator is not on the roster: no action reaches them.
    await repo.upsert_worker(2, "C", None, "en")
    await repo.redeem_invite(await repo.create_invite(project.id, Role.COORDINATOR), 2)
    assert await repo.roster_action("remove", project.id, 2, actor=9) == (False, False)
    assert await repo.role_of(2, project.id) is Role.COORDINATOR
    kinds = await repo.all(
        "SELECT kind, COUNT(*) FROM events WHERE kind IN ('worker.suspended',"
        " 'worker.reinstated', 'member.removed') GROUP BY kind ORDER BY kind"
    )
    assert [tuple(k) for k in kinds] == [
        ("member.removed", 1),
        ("worker.reinstated", 1),
        ("worker.suspended", 1),
    ]


async def test_the_roster_pages_by_name_with_each_workers_figures(repo: Repository) -> None:
    project = await add_project(repo, 5)
    for uid in (3, 1, 2):
        await add_worker(repo, uid, project)
    await repo.write("UPDATE workers SET username = 'Mina' WHERE id = 2")
    card = await repo.next_card(2, project.id, now=100.0)
    assert card is not None
    await repo.record_label(card.assignment_id, 2, 0, now=104.0)
    page = await repo.roster_page(project.id, 0, 2, day_start=50.0, exam_size=0)
    assert [e.worker_id for e in page] == [1, 2]
    assert (page[1].labels, page[1].today, page[1].median_s) == (1, 1, 4.0)
    assert page[1].status == "active"
    assert await repo.roster_size(project.id) == 3
    assert await repo.find_member([project.id], "@mina") == [(2, project.id)]
    assert await repo.find_member([project.id], "3") == [(3, project.id)]
    assert await repo.find_member([project.id], "mina") == []


async def test_the_roster_and_work_report_reads_use_indexes(repo: Repository) -> None:
    plans = {}
    for index, sql in (
        (
            "labels_worker",
            "SELECT COUNT(*) FROM labels AS l WHERE l.worker_id = 1 AND +l.project_id = 1"
            " AND l.retracted_at IS NULL",
        ),
        (
            "labels_project_time",
            "SELECT 1 FROM labels AS l WHERE l.project_id = 1 AND l.answered_at >= 0"
            " AND l.answered_at < 1",
        ),
        (
            "worker_flags_worker",
            "SELECT 1 FROM worker_flags WHERE project_id = 1 AND worker_id = 1 ORDER BY id DESC",
        ),
    ):
        rows = await repo.all(f"EXPLAIN QUERY PLAN {sql}")
        plans[index] = " ".join(str(r[3]) for r in rows)
    for index, plan in plans.items():
        assert f"INDEX {index}" in plan, plan
        assert "SCAN" not in plan, plan


async def test_a_workers_gold_score_reads_their_own_labels(repo: Repository) -> None:
    """The control score a wrong gold tap computes (in the tap's transaction) walks the
    worker's labels, not the project's."""
    project = await add_project(repo, 2)
    await add_worker(repo, 1, project)
    seen: list[str] = []
    await repo.db.set_trace_callback(seen.append)
    await QualityStore(repo).control_score(1, project.id)
    (sql,) = [s for s in seen if "s.gold = 1" in s]
    plan = " ".join(str(r[3]) for r in await repo.all(f"EXPLAIN QUERY PLAN {sql}"))
    assert "INDEX labels_worker" in plan, plan


async def test_a_flagged_and_removed_worker_can_be_forgotten(repo: Repository) -> None:
    project = await add_project(repo, 2)
    await add_worker(repo, 1, project)
    await add_worker(repo, 2, project)
    await repo.record_flags(project.id, [(1, "the same option 16 times in a row (>= 15)")])
    await repo.roster_action("remove", project.id, 1, actor=2)
    done = await repo.forget_worker(1)
    assert done.known
    for table, column in (("worker_flags", "worker_id"), ("removals", "worker_id")):
        rows = await repo.all(f"SELECT COUNT(*) FROM {table} WHERE {column} = 1")
        assert rows[0][0] == 0, table
    # The coordinator who removed them can be forgotten too.
    assert (await repo.forget_worker(2)).known
    rows = await repo.all("SELECT COUNT(*) FROM removals WHERE removed_by = 2")
    assert rows[0][0] == 0


async def test_a_rule_s_suspension_queues_its_notices_with_it_once(repo: Repository) -> None:
    from storage.quality import QualityStore

    project = await add_project(repo, 3)
    await add_worker(repo, 1, project)
    await repo.upsert_worker(50, "C", None, "ko")
    await repo.redeem_invite(await repo.create_invite(project.id, Role.COORDINATOR), 50)
    quality = QualityStore(repo)
    assert await quality.suspend(1, project.id, "too fast", "speed")
    assert not await quality.suspend(1, project.id, "too fast", "speed")  # once
    rows = await repo.all("SELECT chat_id, kind FROM outbox ORDER BY chat_id")
    assert [tuple(r) for r in rows] == [(1, "suspended"), (50, "coord_suspended")]
