"""The worker roster end to end: /workers paged, a worker's card and its actions (each once,
also when the press is handled again), forged presses refused, the work report as CSV, names
in notices and /check, flags told once, admins' /check and /review without joining, and
invites with expiry, a use limit, revocation and no demotion."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Update

from bot.callbacks_roster import (
    RevokeInvite,
    WorkerAction,
    WorkerCard,
    WorkersPage,
    WorkReportTap,
)
from bot.texts import t
from sandbox.client import JSON, SandboxUser, buttons
from sandbox.server import SandboxServer
from storage.models import Role, SampleIn
from storage.quality import QualityStore
from tests.conftest import make_spec
from tests.e2e.conftest import ADMIN_ID, World, start_world


def label_buttons(card: JSON) -> list[str]:
    return [d for _, d in buttons(card) if d.startswith("v1:l:")]


async def admin(world: World) -> SandboxUser:
    user = world.user(ADMIN_ID)
    await user.create()
    return user


async def member(world: World, user_id: int, role: Role) -> SandboxUser:
    code = await world.repo.create_invite(world.project.id, role)
    user = world.user(user_id)
    await user.create()
    await user.send(f"/start {code}")
    assert f"as a {role.value}" in (await user.next_message())["text"]
    await user.next_message()
    return user


async def label(world: World, user_id: int, n: int, option: int = 0) -> SandboxUser:
    user, card = await world.first_card(user_id)
    for _ in range(n):
        await user.press(card, data=label_buttons(card)[option])
        card = await user.next_message()
    return user


async def handled(world: World, wait_s: float = 5.0) -> int:
    """Wait until every stored update is handled; the newest update's id."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        rows = await world.repo.db.execute_fetchall(
            "SELECT MAX(update_id), SUM(handled_at IS NULL) FROM inbox"
        )
        newest, pending = next(iter(rows))
        if newest is not None and not pending:
            return int(newest)
        assert asyncio.get_running_loop().time() < deadline, "updates were not handled"
        await asyncio.sleep(0.01)


async def replay(world: World, update_id: int) -> None:
    rows = await world.repo.db.execute_fetchall(
        "SELECT data FROM inbox WHERE update_id = ?", (update_id,)
    )
    data = json.loads(next(iter(rows))[0])
    await world.app.process_update(Update.de_json(data, world.app.bot))


async def count(world: World, sql: str, *params: object) -> int:
    rows = await world.repo.db.execute_fetchall(sql, params)
    return int(next(iter(rows))[0])


async def edited(user: SandboxUser, message: JSON, before: str) -> JSON:
    """The message once the bot changed its text from `before`."""
    for _ in range(200):
        now = await user.message(message["message_id"])
        if now.get("text") != before:
            return now
        await asyncio.sleep(0.025)
    raise AssertionError(f"message {message['message_id']} was not edited")


async def download(world: World, message: JSON) -> bytes:
    file = await world.app.bot.get_file(str(message["document"]["file_id"]))
    return bytes(await file.download_as_bytearray())


@pytest.fixture
async def many(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[World]:
    samples = [SampleIn(ext_id=f"t{i}", text=f"text sample {i}") for i in range(12)]
    async for w in start_world(
        sandbox, tmp_path, samples, overlap=3, pay_per_label=0.5, currency="USD"
    ):
        yield w


async def test_the_roster_pages_and_names_every_worker(many: World) -> None:
    world = many
    await label(world, 3, 2)
    for uid in (1, 2, 4, 5, 6, 7, 8, 9, 10):
        await world.joined(uid)
    boss = await admin(world)
    await boss.send("/workers colours")
    page = await boss.next_message()
    assert "Workers of “Colours” — 1-8 of 10" in page["text"]
    assert "User3 (3)" in page["text"]
    assert "labels 2 (today 2)" in page["text"]
    assert "median" in page["text"]
    assert "User9" not in page["text"]
    assert "✅ active" in page["text"]
    before = page["text"]
    await boss.press(page, text="Next ▶")
    second = await edited(boss, page, before)
    assert "9-10 of 10" in second["text"]
    assert "User9 (9)" in second["text"]
    assert "◀ Previous" in [b for b, _ in buttons(second)]


async def test_a_card_suspends_reinstates_and_removes_once(world: World) -> None:
    worker = await label(world, 1, 1)
    boss = await admin(world)
    await boss.send("/workers")
    page = await boss.next_message()
    await boss.press(page, text="1. User1 (1)")
    card = await edited(boss, page, page["text"])
    assert "👤 User1 (1)" in card["text"]
    assert "Labels: 1 (today 1)" in card["text"]
    assert "No flags." in card["text"]
    cb = await boss.press(card, text="⛔ Suspend")
    assert "User1 (1) is suspended" in (await boss.answer(cb))["text"]
    told = await worker.next_message()
    assert "coordinator paused your work" in told["text"]
    suspend_update = await handled(world)
    row = await world.repo.one("SELECT suspended_at FROM memberships WHERE worker_id = 1")
    assert row is not None
    assert row[0] is not None
    # The same press handled again (a redelivery, a crash): nothing twice.
    await replay(world, suspend_update)
    assert not await worker.messages_after(worker.last_seen, 0.4)
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind = 'worker.suspended'") == 1
    card = await boss.message(card["message_id"])
    assert "⛔ suspended" in card["text"]
    assert "a coordinator's decision" in card["text"]
    cb = await boss.press(card, text="✅ Reinstate")
    assert "can label in “Colours” again" in (await boss.answer(cb))["text"]
    assert "You can label in “Colours” again" in (await worker.next_message())["text"]
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind = 'worker.reinstated'") == 1
    # Remove asks first; Yes removes.
    card = await edited(boss, card, card["text"])
    before = card["text"]
    await boss.press(card, text="🗑 Remove")
    confirm = await edited(boss, card, before)
    assert "Remove User1 (1) from “Colours”?" in confirm["text"]
    assert await world.repo.role_of(1, world.project.id) is Role.WORKER
    await boss.press(confirm, text="🗑 Yes, remove")
    done = await edited(boss, confirm, confirm["text"])
    assert "User1 (1) was removed" in done["text"]
    assert await world.repo.role_of(1, world.project.id) is None
    assert "removed you from “Colours”" in (await worker.next_message())["text"]
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind = 'member.removed'") == 1
    # The old link does not bring them back; a new one does.
    await worker.send(f"/start {world.invite}")
    assert "You were removed from this project" in (await worker.next_message())["text"]
    code = await world.repo.create_invite(world.project.id, Role.WORKER)
    await worker.send(f"/start {code}")
    assert "You joined “Colours”" in (await worker.next_message())["text"]


async def test_forged_roster_and_invite_presses_are_refused(world: World) -> None:
    worker, _ = await world.joined(1)
    await world.joined(2)
    pid = world.project.id
    forged = [
        WorkersPage(pid, 0).pack(),
        WorkerCard(pid, 2, 0).pack(),
        WorkerAction(pid, 2, 0, "suspend").pack(),
        WorkerAction(pid, 2, 0, "remove_yes").pack(),
        RevokeInvite(1).pack(),
        WorkReportTap(pid).pack(),
        "v1:wa:1:2:0:explode",
        "v1:wp:-1:0",
    ]
    message = await worker.message(worker.last_seen)
    for data in forged:
        cb = await worker.press(message, data=data, strict=False)
        answer = (await worker.answer(cb))["text"]
        assert answer == t("en", "invalid_button"), data
    assert await world.repo.role_of(2, pid) is Role.WORKER
    assert (
        await count(world, "SELECT COUNT(*) FROM memberships WHERE suspended_at IS NOT NULL") == 0
    )
    assert await count(world, "SELECT COUNT(*) FROM invites WHERE revoked_at IS NOT NULL") == 0
    assert not [m for m in await worker.messages_after(worker.last_seen, 0.3) if "document" in m]
    # A coordinator of another project gets the same refusal.
    other = await world.repo.create_project(make_spec(slug="other", name="Other"))
    code = await world.repo.create_invite(other.id, Role.COORDINATOR)
    coord = world.user(7)
    await coord.create()
    await coord.send(f"/start {code}")
    await coord.next_message()
    await coord.next_message()
    cb = await coord.press(message, data=WorkerAction(pid, 2, 0, "suspend").pack(), strict=False)
    await coord.answer(cb)
    assert (
        await count(world, "SELECT COUNT(*) FROM memberships WHERE suspended_at IS NOT NULL") == 0
    )


async def test_the_work_report_is_a_csv_with_names_and_amounts(many: World) -> None:
    world = many
    await label(world, 1, 3)
    await label(world, 2, 1)
    boss = await admin(world)
    await boss.send("/workers colours")
    page = await boss.next_message()
    await boss.press(page, text="📄 Work report (CSV)")
    sent = await boss.next_message(timeout=10)
    assert sent["document"]["file_name"].startswith("workreport-colours-")
    assert "2 workers, 4 labels, 4 kept" in sent["caption"]
    assert "To pay: 2.00 USD (0.5 per kept label)" in sent["caption"]
    rows = list(csv.DictReader(io.StringIO((await download(world, sent)).decode("utf-8-sig"))))
    by_id = {r["worker_id"]: r for r in rows}
    assert by_id["1"]["name"] == "User1"
    assert by_id["1"]["labels"] == "3"
    assert by_id["1"]["kept_labels"] == "3"
    assert by_id["1"]["amount"] == "1.50"
    assert by_id["2"]["amount"] == "0.50"
    assert by_id["1"]["currency"] == "USD"
    # /workreport with a period: nothing before the labels were given.
    await boss.send("/workreport colours 2020-01-01 2020-01-31")
    old = await boss.next_message(timeout=10)
    assert "0 workers, 0 labels" in old["caption"]
    await boss.send("/workreport colours 2020-02-01 2020-01-01")
    refused = (await boss.next_message())["text"]
    assert "“2020-02-01 2020-01-01” is not a period" in refused
    assert "Usage: /workreport" in refused


@pytest.fixture
async def flaggy(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[World]:
    samples = [SampleIn(ext_id=f"t{i}", text=f"text sample {i}") for i in range(6)]
    rules = {"max_run": 3, "min_answers": 100, "min_seconds": 0.0}
    async for w in start_world(sandbox, tmp_path, samples, overlap=1, quality={"rules": rules}):
        yield w


async def test_check_names_workers_and_flags_are_told_once(flaggy: World) -> None:
    world = flaggy
    coordinator = await member(world, 5, Role.COORDINATOR)
    await label(world, 1, 4)  # the same option four times in a row: flagged
    await coordinator.send("/check")
    got = [await coordinator.next_message(timeout=15), await coordinator.next_message()]
    texts = "\n".join(m["text"] for m in got)
    assert "⚠️ User1 (1)" in texts
    assert "⚠️ User1 (1) in “Colours”" in texts
    assert "/workers colours" in texts
    await coordinator.send("/check colours")
    again = await coordinator.next_message(timeout=15)
    assert "⚠️ User1 (1)" in again["text"]  # the summary still names them
    assert not await coordinator.messages_after(coordinator.last_seen, 0.5)  # no second notice
    assert await count(world, "SELECT COUNT(*) FROM worker_flags") == 1
    # The card lists the flag.
    await coordinator.send("/workers")
    page = await coordinator.next_message()
    assert "⚠️ flagged" in page["text"]
    await coordinator.press(page, text="1. User1 (1)")
    card = await edited(coordinator, page, page["text"])
    assert "Recent flags:" in card["text"]
    assert "in a row" in card["text"]


async def test_admins_check_and_review_without_joining(world: World) -> None:
    await label(world, 1, 1)
    await world.repo.create_project(make_spec(slug="other", name="Other"))
    boss = await admin(world)
    await boss.send("/check")
    assert "/check <project>" in (await boss.next_message())["text"]
    await boss.send("/check colours")
    assert "Quality check" in (await boss.next_message(timeout=15))["text"]
    await boss.send("/review")  # two projects, none waiting: which one?
    assert "/review <project>" in (await boss.next_message())["text"]
    await world.repo.db.execute(
        "UPDATE samples SET status = 'review' WHERE project_id = ? AND ext_id = 't0'",
        (world.project.id,),
    )
    await world.repo.db.commit()
    await boss.send("/review nope")
    assert "You do not review “nope”" in (await boss.next_message())["text"]
    await boss.send("/review colours")
    card = await boss.next_message()
    assert "Review" in card["text"]
    cb = await boss.press(card, text="Green")
    assert "Decided: Green" in (await boss.answer(cb))["text"]
    row = await world.repo.one("SELECT status FROM samples WHERE ext_id = 't0'")
    assert row is not None
    assert row[0] == "reviewed"


async def test_review_card_names_who_chose_what(world: World) -> None:
    await label(world, 1, 1, option=1)
    await label(world, 2, 1, option=2)
    await world.repo.db.execute("UPDATE samples SET status = 'review' WHERE n_labels = 2")
    await world.repo.db.commit()
    boss = await admin(world)
    await boss.send("/review colours")
    card = await boss.next_message()
    assert "Who chose what:" in card["text"]
    assert "Green: User1 (1)" in card["text"]
    assert "Blue: User2 (2)" in card["text"]


async def test_reinstate_takes_a_username(world: World) -> None:
    await world.joined(1)
    await world.repo.db.execute("UPDATE workers SET username = 'mina' WHERE id = 1")
    await world.repo.db.commit()
    await QualityStore(world.repo).suspend(
        1, world.project.id, "gold accuracy 0% after 5 gold answers (< 60%)", "gold_accuracy"
    )
    boss = await admin(world)
    await boss.send("/reinstate @Mina")
    assert "Reinstated User1 (1) in “Colours”" in (await boss.next_message())["text"]
    await boss.send("/reinstate @Mina")
    assert "Nothing to lift" in (await boss.next_message())["text"]
    await boss.send("/reinstate @nobody")
    assert "No worker “@nobody”" in (await boss.next_message())["text"]


async def test_invites_expire_run_out_are_revoked_and_never_demote(world: World) -> None:
    boss = await admin(world)
    await boss.send("/invite colours worker 7 1")
    reply = (await boss.next_message())["text"]
    assert "start=worker-" in reply
    assert "0 of 1 uses" in reply
    code = reply.split("start=", 1)[1].split()[0]
    first, second = world.user(1), world.user(2)
    for u in (first, second):
        await u.create()
    await first.send(f"/start {code}")
    assert "You joined" in (await first.next_message())["text"]
    await second.send(f"/start {code}")
    assert "used as often as it may be" in (await second.next_message())["text"]
    assert await world.repo.role_of(2, world.project.id) is None
    # Expired.
    late = await world.repo.create_invite(world.project.id, Role.WORKER, days=1)
    await world.repo.db.execute("UPDATE invites SET expires_at = 1 WHERE code = ?", (late,))
    await world.repo.db.commit()
    await second.send(f"/start {late}")
    assert "has expired" in (await second.next_message())["text"]
    # Revoked from /invites.
    await boss.send("/invite colours reviewer")
    review_link = (await boss.next_message())["text"]
    assert "start=reviewer-" in review_link
    review_code = review_link.split("start=", 1)[1].split()[0]
    await boss.send("/invites colours")
    listing = await boss.next_message()
    assert "Invite links that still work" in listing["text"]
    assert review_code[-6:] in listing["text"]
    assert late[-6:] not in listing["text"]  # expired links are not listed
    seq = await count(world, "SELECT seq FROM invites WHERE code = ?", review_code)
    cb = await boss.press(listing, text=f"✖ Revoke {seq}")
    assert f"Link {seq} revoked" in (await boss.answer(cb))["text"]
    await second.send(f"/start {review_code}")
    assert "was revoked" in (await second.next_message())["text"]
    # A reviewer who opens a worker link stays a reviewer.
    reviewer = await member(world, 3, Role.REVIEWER)
    await reviewer.send(f"/start {world.invite}")
    assert "as a reviewer" in (await reviewer.next_message())["text"]
    assert await world.repo.role_of(3, world.project.id) is Role.REVIEWER


async def test_a_korean_coordinator_reads_the_roster_in_korean(world: World) -> None:
    await label(world, 1, 1)
    await world.joined(2)
    await world.repo.write("UPDATE workers SET unreachable_at = 1 WHERE id = 2")
    boss = world.user(ADMIN_ID, lang="ko")
    await boss.create()
    await boss.send("/workers colours")
    page = await boss.next_message()
    assert "“Colours” 작업자 — 전체 2명 중 1-2" in page["text"]
    assert "🚫 연락 안 됨" in page["text"]  # the bot was blocked (a broadcast met 403)
    assert "라벨 1개 (오늘 1개)" in page["text"]
    await boss.press(page, text="1. User1 (1)")
    card = await edited(boss, page, page["text"])
    assert "확인용 문제 정답률" in card["text"]
    assert {"⛔ 중지", "🗑 내보내기", "◀ 목록으로"} <= {b for b, _ in buttons(card)}
    await boss.press(card, text="◀ 목록으로")
    page = await edited(boss, card, card["text"])
    assert buttons(page)[-1] == ("📄 작업 보고서 (CSV)", WorkReportTap(world.project.id).pack())
    await boss.press(page, text="📄 작업 보고서 (CSV)")
    sent = await boss.next_message(timeout=10)
    assert "작업 보고서" in sent["caption"]
    assert "작업자 1명, 라벨 1개" in sent["caption"]


async def test_the_roster_leaves_out_who_asked_to_be_forgotten(world: World) -> None:
    gone = await label(world, 4242, 1)
    await label(world, 5, 1)
    await gone.send("/forget")
    ask = await gone.next_message()
    cb = await gone.press(ask, text="Erase me")
    await gone.answer(cb)
    await handled(world)
    boss = await admin(world)
    await boss.send("/workers colours")
    page = await boss.next_message()
    assert "Workers of “Colours” — 1-1 of 1" in page["text"]
    assert "User5 (5)" in page["text"]


async def test_a_forged_card_press_names_no_one_outside_the_project(world: World) -> None:
    await label(world, 2, 1)  # a worker of "Colours" only
    other = await world.repo.create_project(make_spec(slug="other", name="Other"))
    code = await world.repo.create_invite(other.id, Role.COORDINATOR)
    coord = world.user(7)
    await coord.create()
    await coord.send(f"/start {code}")
    joined = await coord.next_message()
    for data in (
        WorkerCard(other.id, 2, 0).pack(),
        WorkerAction(other.id, 2, 0, "suspend").pack(),
    ):
        cb = await coord.press(joined, data=data, strict=False)
        answer = (await coord.answer(cb))["text"]
        assert "User2" not in answer
        assert "(2)" in answer
    assert await world.repo.role_of(2, world.project.id) is Role.WORKER
    row = await world.repo.one("SELECT suspended_at FROM memberships WHERE worker_id = 2")
    assert row is not None
    assert row[0] is None
