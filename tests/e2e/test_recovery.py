"""After a crash the bot picks up where it was: stored updates handled, cards delivered, the
admins told; and a worker has one live card at a time."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from app import build_application, polling
from bot.delivery import PENDING_EVERY_S
from config.settings import Settings
from sandbox.client import JSON, SandboxUser, buttons
from sandbox.server import SandboxServer
from storage.inbox import Inbox
from storage.models import Project, Role, SampleIn
from storage.repository import Repository
from tests.conftest import make_spec
from tests.e2e.conftest import ADMIN_ID, World
from tests.tls import bot_requests, http_client


def label_buttons(card: JSON) -> list[tuple[str, str]]:
    return [b for b in buttons(card) if b[1].startswith("v1:l:")]


@asynccontextmanager
async def bot(sandbox: SandboxServer, repo: Repository, db: Path) -> AsyncIterator[None]:
    settings = Settings(
        token=sandbox.token,
        bot_api_url=sandbox.bot_api_url,
        bot_file_url=sandbox.file_url,
        db_path=db,
        admins=[ADMIN_ID],
        rate_limit=False,
    )
    app = build_application(settings, repo, **bot_requests())
    async with polling(app, freeze_heap=False):  # see tests/e2e/conftest.py
        yield


async def project_db(db: Path, samples: int, overlap: int) -> tuple[Repository, Project, str]:
    """An open repository with a text project and a worker invite."""
    repo = Repository(db)
    await repo.open()
    project = await repo.create_project(make_spec(overlap=overlap))
    await repo.import_samples(
        project.id, [SampleIn(ext_id=f"t{i}", text=f"text sample {i}") for i in range(samples)]
    )
    return repo, project, await repo.create_invite(project.id, Role.WORKER)


async def test_start_tapped_twice_leaves_one_live_card(world: World) -> None:
    user, guide = await world.joined(1)
    await user.press(guide, data=buttons(guide)[0][1])
    first = await user.next_message()
    await user.press(guide, data=buttons(guide)[0][1])
    second = await user.next_message()
    assert second["text"] == first["text"]
    assert label_buttons(second)
    deadline = time.monotonic() + 5
    while label_buttons(await user.message(first["message_id"])):
        assert time.monotonic() < deadline, "the first copy kept its buttons"
        await asyncio.sleep(0.01)
    old = await user.message(first["message_id"])
    assert buttons(old) == [("⌛ Replaced by the card below", "v1:n")]


async def test_after_a_crash_stored_updates_are_handled_cards_delivered_admins_told(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    db = tmp_path / "crash.db"
    repo, project, invite = await project_db(db, samples=4, overlap=2)
    async with http_client(timeout=10) as http:
        admin = SandboxUser(sandbox.url, ADMIN_ID, "Admin", client=http)
        await admin.create()
        await admin.send("/help")
        one = SandboxUser(sandbox.url, 1, "One", client=http)
        two = SandboxUser(sandbox.url, 2, "Two", client=http)
        for user in (one, two):
            await user.create()
        async with bot(sandbox, repo, db):
            await admin.next_message()
            for user in (one, two):
                await user.send(f"/start {invite}")
                await user.next_message()
                guide = await user.next_message()
                await user.press(guide, data=buttons(guide)[0][1])
                await user.next_message()
        # What a kill -9 leaves: the run not closed, worker 1's card claimed but never sent,
        # worker 2's tap stored in the inbox but not handled.
        await repo.open()  # the bot closed it at shutdown
        await repo.db.execute("UPDATE runs SET stopped_at = NULL, alive_at = alive_at - 75")
        await repo.db.execute("UPDATE assignments SET message_id = NULL WHERE worker_id = 1")
        card_two = (await two.messages_after(0))[-1]
        tap = {
            "update_id": 10_000,
            "callback_query": {
                "id": "77",
                "from": {"id": 2, "is_bot": False, "first_name": "Two"},
                "message": card_two,
                "chat_instance": "1",
                "data": label_buttons(card_two)[0][1],
            },
        }
        await Inbox(repo).store([(10_000, json.dumps(tap))])
        seen_one, seen_two = one.last_seen, two.last_seen
        async with bot(sandbox, repo, db):
            # at once after the start, not at the pending-card job's first repeat
            resent = await one.next_message(timeout=PENDING_EVERY_S / 2)
            assert resent["message_id"] > seen_one
            assert label_buttons(resent)
            nxt = await two.next_message()
            assert nxt["message_id"] > seen_two
            assert label_buttons(nxt)
            told = await admin.next_message()
        assert "unclean stop" in told["text"]
        assert "down for about 1 min 1" in told["text"]
        assert "caught up on 1 updates: 1 received before the stop, 0 that waited" in told["text"]
        await repo.open()
        labels = await repo.live_labels(project.id)
        assert [lb.worker_id for lb in labels] == [2]
        # a clean stop says nothing at the next start
        async with bot(sandbox, repo, db):
            assert await admin.messages_after(admin.last_seen, 1.0) == []
    await repo.close()


async def test_a_tap_handled_after_its_query_expired_still_counts_and_gets_its_card(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    db = tmp_path / "late.db"
    repo, project, invite = await project_db(db, samples=3, overlap=1)
    sandbox.callback_ttl = 0.2
    async with http_client(timeout=10) as http:
        user = SandboxUser(sandbox.url, 1, "One", client=http)
        await user.create()
        async with bot(sandbox, repo, db):
            await user.send(f"/start {invite}")
            await user.next_message()
            guide = await user.next_message()
            await user.press(guide, data=buttons(guide)[0][1])
            card = await user.next_message()
        # The bot is down when the worker taps; it is back only after the query expired.
        query = await user.press(card, data=label_buttons(card)[1][1])
        await asyncio.sleep(0.5)
        async with bot(sandbox, repo, db):
            fresh = await user.next_message()
            assert label_buttons(fresh)
            assert fresh["text"] != card["text"]
        assert not (await user.answer(query, timeout=0.2))["answered"]  # too late to answer
        await repo.open()
        labels = await repo.live_labels(project.id)
        assert [(lb.worker_id, lb.option_key) for lb in labels] == [(1, "green")]
    await repo.close()


async def test_a_card_for_a_worker_who_blocked_the_bot_goes_back_to_the_pool(
    world: World,
) -> None:
    from bot.delivery import deliver_pending

    user, card = await world.first_card(1)
    assignment = int(label_buttons(card)[0][1].split(":")[2])
    # as if its message never went out; then the worker blocks the bot
    await world.repo.db.execute(
        "UPDATE assignments SET message_id = NULL WHERE id = ?", (assignment,)
    )
    await user.block()
    world.app.bot_data.started_at = time.time() + 60  # nothing counts as in flight
    assert world.app.job_queue is not None
    world.app.job_queue.run_once(deliver_pending, 0)
    deadline = time.monotonic() + 5
    while True:
        rows = await world.repo.db.execute_fetchall(
            "SELECT status FROM assignments WHERE id = ?", (assignment,)
        )
        if next(iter(rows))[0] == "released":
            break
        assert time.monotonic() < deadline, "the card stayed with the blocked worker"
        await asyncio.sleep(0.02)
    sample = await world.repo.db.execute_fetchall(
        "SELECT s.need, s.n_open FROM samples s JOIN assignments a ON a.sample_id = s.id"
        " WHERE a.id = ?",
        (assignment,),
    )
    assert tuple(next(iter(sample))) == (2, 0)  # wanted again by others (overlap 2)


async def test_a_stored_broadcast_message_handled_at_start_is_still_the_broadcast(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    from bot.outbox import COMPOSING

    db = tmp_path / "race.db"
    repo, _, _ = await project_db(db, samples=3, overlap=1)
    async with http_client(timeout=10) as http:
        boss = SandboxUser(sandbox.url, ADMIN_ID, "Boss", client=http)
        await boss.create()
        async with bot(sandbox, repo, db):
            await boss.send("/broadcast colours")
            assert "Send me the message" in (await boss.next_message())["text"]
        # A kill -9 right after the coordinator's message was stored, before it was handled:
        # the next start replays it, and it must find the draft waiting for it.
        await repo.open()
        await repo.db.execute("UPDATE runs SET stopped_at = NULL")
        message = {
            "update_id": 50_000,
            "message": {
                "message_id": 999,
                "date": int(time.time()),
                "chat": {"id": ADMIN_ID, "type": "private", "first_name": "Boss"},
                "from": {"id": ADMIN_ID, "is_bot": False, "first_name": "Boss"},
                "text": "Meeting at five",
            },
        }
        await Inbox(repo).store([(50_000, json.dumps(message))])
        COMPOSING.users.clear()  # a new process starts with nothing in memory
        COMPOSING.taken.clear()
        seen = boss.last_seen
        async with bot(sandbox, repo, db):
            texts = [m.get("text") for m in await boss.messages_after(seen, 3.0)]
        assert "Who should get it?" in texts
        await repo.open()
        assert await repo.all("SELECT status FROM broadcasts") == [("draft",)]
    await repo.close()


async def test_one_database_error_does_not_end_the_outbox_sender(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from bot.outbox import sender_of

    user, _ = await world.joined(1)
    await asyncio.sleep(0.5)
    assert sender_of(world.app) is not None
    real = world.repo.outbox_claim
    calls = 0

    async def claim(row_id: int) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:  # the disk full for a moment, or another writer holding the lock
            raise sqlite3.OperationalError("database or disk is full")
        return await real(row_id)

    monkeypatch.setattr(world.repo, "outbox_claim", claim)
    seen = user.last_seen
    await world.repo.queue_notices([1], "more_work", {"project": world.project.id}, time.time())
    told = await user.next_message(timeout=5)
    assert told["message_id"] > seen
    assert "New samples are ready" in told["text"]
    assert sender_of(world.app) is not None


async def test_an_error_after_a_tap_was_answered_still_tells_the_user(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    import handlers.labeling as labeling

    user, card = await world.first_card(1)

    async def broken(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(0.3)  # the tap's "Saved" answer has gone out meanwhile
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(labeling, "deliver", broken)
    await user.press(card, data=label_buttons(card)[0][1])
    said = await user.next_message(timeout=5)
    assert "Something went wrong" in said["text"]
