"""Broadcasts through a real Bot API: /broadcast with its preview and Send/Cancel, copies that
keep the formatting, 403 recipients marked unreachable, Send pressed twice or handled again,
forged buttons, /broadcasts with Stop, Telegram's limits with no 429, and a restart that
resumes with nothing lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from app import build_application, polling
from bot.outbox import AudienceTap, SendTap
from config.settings import Settings
from sandbox.client import JSON, SandboxUser, buttons
from sandbox.server import RateLimits, SandboxServer
from storage.models import Project, Role, SampleIn
from storage.repository import Repository
from tests.conftest import make_spec
from tests.e2e.conftest import ADMIN_ID, World
from tests.e2e.test_replays import handled, replay
from tests.tls import bot_requests, http_client


async def admin(world: World) -> SandboxUser:
    user = world.user(ADMIN_ID)
    await user.create()
    return user


async def compose(boss: SandboxUser, html: str, project: str = "colours") -> JSON:
    """/broadcast, then the formatted message: returns the audience question."""
    await boss.send(f"/broadcast {project}")
    prompt = await boss.next_message()
    assert "Send me the message" in prompt["text"]
    await boss.send_formatted(html)
    question = await boss.next_message()
    assert question["text"] == "Who should get it?"
    return question


async def wait_for(check, limit_s: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def rows(world_repo: Repository, sql: str, *params: object) -> list[tuple[object, ...]]:
    return [tuple(r) for r in await world_repo.db.execute_fetchall(sql, params)]


async def test_broadcast_preview_send_report_and_403(world: World) -> None:
    one, _ = await world.joined(1)
    two, _ = await world.joined(2, "ko")
    three, _ = await world.joined(3)
    await three.block()
    boss = await admin(world)
    question = await compose(boss, "<b>Meeting</b> at five")
    await boss.press(question, text="👥 All workers")
    preview = await boss.next_message()
    assert preview["text"] == "Meeting at five"
    assert preview["entities"][0]["type"] == "bold"
    summary = await boss.next_message()
    assert "It goes to 3 recipients in “Colours” (all workers)" in summary["text"]
    assert (await boss.message(question["message_id"]))["text"] == "Audience: all workers"
    await boss.press(summary, text="✅ Send to 3")
    for worker in (one, two):
        got = await worker.next_message()
        assert got["text"] == "Meeting at five"
        assert got["entities"] == [{"type": "bold", "offset": 0, "length": 7}]
    report = await boss.next_message(timeout=10)
    assert "Broadcast #1 to “Colours” is done" in report["text"]
    assert "Sent: 2 of 3" in report["text"]
    assert "Unreachable (blocked the bot): 1" in report["text"]
    assert "Failed: 0" in report["text"]
    unreachable = await rows(world.repo, "SELECT id FROM workers WHERE unreachable_at IS NOT NULL")
    assert unreachable == [(3,)]
    # Send pressed again, and the press handled again as after a crash: nothing doubles.
    # (A press on the old buttons: a phone may not have shown the edit yet.)
    answer = await boss.answer(
        await boss.press(summary, data=SendTap(1, "send").pack(), strict=False)
    )
    assert answer["text"] == "This broadcast is already on its way: /broadcasts"
    await replay(world, await handled(world))
    assert await rows(world.repo, "SELECT COUNT(*) FROM outbox WHERE kind = 'copy'") == [(3,)]
    assert await one.messages_after(one.last_seen, 0.5) == []
    assert await two.messages_after(two.last_seen, 0.1) == []


async def test_a_photo_to_korean_users_then_cancel_sends_nothing(world: World) -> None:
    one, _ = await world.joined(1)
    two, _ = await world.joined(2, "ko")
    boss = await admin(world)
    await boss.send("/broadcast")  # the admin's only project
    await boss.next_message()
    await boss.send_photo(b"\xff\xd8\xff\xe0 a tiny jpeg", caption="<i>New</i> rules")
    question = await boss.next_message()
    await boss.press(question, text="🇰🇷 Korean users")
    preview = await boss.next_message()
    assert preview["caption"] == "New rules"
    assert preview["caption_entities"][0]["type"] == "italic"
    assert "photo" in preview
    summary = await boss.next_message()
    assert "It goes to 1 recipients" in summary["text"]
    assert "(workers who use Korean)" in summary["text"]
    await boss.press(summary, text="✖ Cancel")
    await wait_for(
        lambda: _text_is(boss, summary["message_id"], "Broadcast cancelled; nothing was sent.")
    )
    answer = await boss.answer(
        await boss.press(summary, data=SendTap(1, "send").pack(), strict=False)
    )
    assert answer["text"] == "This draft is no longer open. Start again with /broadcast."
    assert await one.messages_after(one.last_seen, 0.5) == []
    assert await two.messages_after(two.last_seen, 0.1) == []
    assert await rows(world.repo, "SELECT status FROM broadcasts") == [("dropped",)]


async def _text_is(user: SandboxUser, message_id: int, text: str) -> bool:
    return (await user.message(message_id)).get("text") == text


async def test_an_empty_audience_says_so_and_a_document_is_not_imported(world: World) -> None:
    await world.joined(1)
    boss = await admin(world)
    await boss.send("/broadcast colours")
    await boss.next_message()
    await boss.send_document("plan.csv", b"text\nthis is no data import\n")
    question = await boss.next_message()
    assert question["text"] == "Who should get it?"  # the broadcast, not an import report
    await boss.press(question, text="🧐 Reviewers")
    await wait_for(lambda: _text_starts(boss, question["message_id"], "Nobody in “Colours”"))
    await boss.press(question, text="👥 All workers")
    preview = await boss.next_message()
    assert preview["document"]["file_name"] == "plan.csv"
    assert await rows(world.repo, "SELECT COUNT(*) FROM samples") == [(3,)]


async def _text_starts(user: SandboxUser, message_id: int, text: str) -> bool:
    return str((await user.message(message_id)).get("text", "")).startswith(text)


async def test_forged_broadcast_buttons_are_refused(world: World) -> None:
    worker, guide = await world.joined(1)
    boss = await admin(world)
    question = await compose(boss, "hello")
    # A worker presses the coordinator's buttons (forged into their own chat).
    for data in (
        AudienceTap(1, "all", 0).pack(),
        SendTap(1, "send").pack(),
        SendTap(1, "cancel").pack(),
    ):
        answer = await worker.answer(await worker.press(guide, data=data, strict=False))
        assert "not valid" in (answer["text"] or ""), data
    # The coordinator's own buttons with arguments the bot never offers.
    for data in ("v1:bca:1:lang:7", "v1:bca:1:active:5", "v1:bca:1:all:3", "v1:bcs:1:go"):
        answer = await boss.answer(await boss.press(question, data=data, strict=False))
        assert "not valid" in (answer["text"] or ""), data
    assert await rows(world.repo, "SELECT status, audience FROM broadcasts") == [("draft", None)]
    assert await rows(world.repo, "SELECT COUNT(*) FROM outbox") == [(0,)]


# ------------------------------------------------------------------ under Telegram's limits


RECIPIENTS = 60


@asynccontextmanager
async def limited_bot(sandbox: SandboxServer, repo: Repository, db: Path) -> AsyncIterator[None]:
    settings = Settings(
        token=sandbox.token,
        bot_api_url=sandbox.bot_api_url,
        bot_file_url=sandbox.file_url,
        db_path=db,
        admins=[ADMIN_ID],
        rate_limit=True,  # FloodGuard paces at 30/s, as in production
    )
    app = build_application(settings, repo, **bot_requests())
    async with polling(app, freeze_heap=False):
        yield


async def crowd(sandbox: SandboxServer, repo: Repository, project: Project, http: object) -> None:
    """RECIPIENTS workers who have a chat with the bot, members of the project."""
    code = await repo.create_invite(project.id, Role.WORKER)
    for i in range(RECIPIENTS):
        user = SandboxUser(sandbox.url, 5000 + i, f"W{i}", client=http)  # type: ignore[arg-type]
        await user.create()
        await user.send("hi")  # opens the chat (Telegram: the user wrote first)
        await repo.upsert_worker(5000 + i, f"W{i}", None, "en")
        await repo.redeem_invite(code, 5000 + i)


async def test_under_telegram_limits_no_429_stop_and_resume_after_a_crash(tmp_path: Path) -> None:
    db = tmp_path / "limits.db"
    async with SandboxServer(limits=RateLimits()) as sandbox, http_client(timeout=10) as http:
        repo = Repository(db)
        await repo.open()
        project = await repo.create_project(make_spec())
        await repo.import_samples(project.id, [SampleIn(ext_id="a", text="a sample")])
        await crowd(sandbox, repo, project, http)
        boss = SandboxUser(sandbox.url, ADMIN_ID, "Boss", client=http)
        await boss.create()
        async with limited_bot(sandbox, repo, db):
            await boss.send("/broadcast")
            await boss.next_message(timeout=10)
            await boss.send_formatted("first <b>news</b>")
            question = await boss.next_message(timeout=10)
            await boss.press(question, text="👥 All workers")
            await boss.next_message(timeout=10)  # the preview
            summary = await boss.next_message(timeout=10)
            await boss.press(summary, text=f"✅ Send to {RECIPIENTS}")

            async def some_sent() -> bool:
                found = await repo.get_broadcast(1)
                return found is not None and found.sent >= 5

            await wait_for(some_sent)
        # The bot stopped mid-broadcast; make it look like a kill -9 caught two in flight.
        await repo.open()  # (the bot closed it)
        await repo.db.execute(
            "UPDATE outbox SET status = 'sending' WHERE id IN"
            " (SELECT id FROM outbox WHERE status = 'queued' ORDER BY id LIMIT 2)"
        )
        sent_before = (await repo.get_broadcast(1)).sent  # type: ignore[union-attr]
        assert sent_before < RECIPIENTS
        async with limited_bot(sandbox, repo, db):
            report = await _report(boss)
            assert "Broadcast #1 to “Colours” is done" in report
            assert f"Sent: {RECIPIENTS} of {RECIPIENTS}" in report
            assert "Possibly received twice (in flight during a restart): 2" in report
            # Nothing lost, nothing twice (the two "in flight" were not really sent).
            counts = await _copies(sandbox, http, "first news")
            assert counts == {5000 + i: 1 for i in range(RECIPIENTS)}
            # A second broadcast, stopped from /broadcasts while it runs.
            await boss.send("/broadcast")
            await boss.next_message(timeout=10)
            await boss.send_formatted("second")
            question = await boss.next_message(timeout=10)
            await boss.press(question, text="👥 All workers")
            await boss.next_message(timeout=10)
            summary = await boss.next_message(timeout=10)
            await boss.press(summary, text=f"✅ Send to {RECIPIENTS}")

            async def running() -> bool:
                found = await repo.get_broadcast(2)
                return found is not None and found.status == "sending"

            await wait_for(running)
            # Hold what is still queued back for a while (as a long retry_after would), so
            # that the broadcast is surely running when Stop is pressed.
            await repo.db.execute(
                "UPDATE outbox SET next_at = next_at + 60 WHERE broadcast_id = 2"
                " AND status = 'queued'"
            )
            await boss.send("/broadcasts")
            listing = await _next_with(boss, "Recent broadcasts")
            assert "#2 “Colours” · all workers · sending" in listing["text"]
            assert "#1 “Colours” · all workers · done" in listing["text"]
            await boss.press(listing, text="⏹ Stop #2")
            stopped = await _next_with(boss, "⏹ Broadcast #2 stopped")
            assert "messages will not be sent" in stopped["text"]
            report = await _report(boss, "#2")
            assert "was stopped" in report
            second = await repo.get_broadcast(2)
            assert second is not None
            assert second.status == "cancelled"
            assert second.cancelled > 0
            assert second.sent + second.cancelled + second.unreachable == RECIPIENTS
            counts = await _copies(sandbox, http, "second")
            assert set(counts.values()) <= {1}
            assert len(counts) == second.sent
        stats = sandbox.stats()
        assert stats["too_many_requests"] == 0
        await repo.close()


async def _next_with(user: SandboxUser, text: str) -> JSON:
    for _ in range(10):
        message = await user.next_message(timeout=15)
        if text in str(message.get("text", "")):
            return message
    raise AssertionError(f"no message with {text!r}")


async def _report(user: SandboxUser, which: str = "#1") -> str:
    return str((await _next_with(user, f"Broadcast {which} to"))["text"])


async def _copies(sandbox: SandboxServer, http: object, text: str) -> dict[int, int]:
    """How many messages with this text each recipient got."""
    counts: dict[int, int] = {}
    for i in range(RECIPIENTS):
        user = SandboxUser(sandbox.url, 5000 + i, f"W{i}", client=http)  # type: ignore[arg-type]
        got = [m for m in await user.messages_after(0) if m.get("text") == text]
        if got:
            counts[5000 + i] = len(got)
    return counts


async def test_a_new_guide_is_announced_once_to_each_worker_in_their_language(
    world: World,
) -> None:
    one, _ = await world.joined(1)
    two, _ = await world.joined(2, "ko")
    reviewer = world.user(7)
    await reviewer.create()
    spec = await world.repo.project_spec(world.project.id)
    guide = {"en": "Pick the main colour; grey counts as none.", "ko": "주된 색을 골라 주세요."}
    await world.repo.update_project(spec.model_copy(update={"guide": guide}))
    note = await one.next_message(timeout=15)
    assert (
        note["text"] == "📘 The guide of “Colours” was updated. Please read it before you go on."
    )
    assert [label for label, _ in buttons(note)] == ["📖 Read the guide"]
    note_ko = await two.next_message(timeout=15)
    assert note_ko["text"].startswith("📘 “Colours” 가이드가 바뀌었어요.")
    await one.press(note, text="📖 Read the guide")
    shown = await one.next_message()
    assert "grey counts as none" in shown["text"]
    # Told once: later heartbeats find nothing new.
    await asyncio.sleep(6)
    assert await two.messages_after(two.last_seen, 0.1) == []
    assert await rows(world.repo, "SELECT COUNT(*) FROM outbox WHERE kind = 'guide_updated'") == [
        (2,)
    ]


async def test_send_under_an_older_preview_sends_to_no_other_audience(world: World) -> None:
    await world.joined(1)
    await world.joined(2, "ko")
    boss = await admin(world)
    await boss.send("/broadcast")
    await boss.next_message()
    await boss.send("hello")
    question = await boss.next_message()
    await boss.press(question, text="👥 All workers")
    await boss.next_message()  # the preview of the message
    summary_all = await boss.next_message()
    assert "It goes to 2 recipients" in summary_all["text"]
    # A second audience press that was already on its way (a double tap, another device).
    await boss.press(question, data=AudienceTap(1, "lang", 1).pack(), strict=False)
    await boss.next_message()
    summary_ko = await boss.next_message()
    assert "It goes to 1 recipients" in summary_ko["text"]
    answer = await boss.answer(await boss.press(summary_all, text="✅ Send to 2"))
    assert "out of date" in answer["text"]
    assert await rows(world.repo, "SELECT COUNT(*) FROM outbox WHERE kind = 'copy'") == [(0,)]
    await boss.press(summary_ko, text="✅ Send to 1")
    sql = "SELECT chat_id FROM outbox WHERE kind = 'copy'"
    for _ in range(50):  # the press is handled after it is posted
        if got := await rows(world.repo, sql):
            break
        await asyncio.sleep(0.1)
    assert got == [(2,)]


async def test_the_command_and_the_message_handled_again_ask_again(world: World) -> None:
    await world.joined(1)
    boss = await admin(world)
    await boss.send("/broadcast colours")
    prompt = await boss.next_message()
    command = await handled(world)
    await replay(world, command)  # a crash before the prompt was confirmed: the same draft
    again = await boss.next_message()
    assert again["text"] == prompt["text"]
    assert await rows(world.repo, "SELECT id, status FROM broadcasts") == [(1, "compose")]
    await boss.send("hello")
    assert (await boss.next_message())["text"] == "Who should get it?"
    message = await handled(world)
    await replay(world, message)  # its audience question again, not silence
    assert (await boss.next_message())["text"] == "Who should get it?"
    assert await rows(world.repo, "SELECT id, status FROM broadcasts") == [(1, "draft")]


async def test_a_draft_left_an_hour_lets_a_file_be_an_upload_again(world: World) -> None:
    from bot.outbox import COMPOSING
    from storage.outbox import COMPOSE_TTL_S

    boss = await admin(world)
    await boss.send("/broadcast colours")
    await boss.next_message()
    COMPOSING.users[ADMIN_ID] -= COMPOSE_TTL_S + 1  # asked over an hour ago
    await boss.send_document("more.csv", b"text\nnew sample\n", caption="project=colours")
    reply = await boss.next_message(timeout=10)
    assert "Who should get it" not in reply["text"]
    assert await rows(world.repo, "SELECT COUNT(*) FROM outbox") == [(0,)]
