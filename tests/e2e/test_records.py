"""The records features through a real Bot API: /export sends the labels as a file, /audit
shows the log with names, /leave and /forget do what they say, once."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import zipfile
from typing import Any

from telegram import Update

from sandbox.client import JSON, SandboxUser, buttons
from tests.e2e.conftest import ADMIN_ID, World


def label_buttons(card: JSON) -> list[str]:
    return [d for _, d in buttons(card) if d.startswith("v1:l:")]


async def label_twice(world: World, user_id: int) -> SandboxUser:
    user, card = await world.first_card(user_id)
    for _ in range(2):
        await user.press(card, data=label_buttons(card)[0])
        card = await user.next_message()
    return user


async def admin(world: World) -> SandboxUser:
    user = world.user(ADMIN_ID)
    await user.create()
    return user


async def download(world: World, message: JSON) -> bytes:
    document = message["document"]
    assert isinstance(document, dict)
    file = await world.app.bot.get_file(str(document["file_id"]))
    return bytes(await file.download_as_bytearray())


async def test_export_sends_the_labels_and_the_dataset_card_as_a_zip(world: World) -> None:
    await label_twice(world, 1)
    boss = await admin(world)
    await boss.send("/export colours")
    # (Generous waits: the export runs in a child process at the lowest priority, and a busy
    # machine starts it late.)
    assert "Exporting “Colours” as jsonl" in (await boss.next_message(timeout=30))["text"]
    sent = await boss.next_message(timeout=120)
    assert sent["document"]["file_name"].startswith("colours-jsonl-")
    assert "2 labels" in sent["caption"]
    archive = zipfile.ZipFile(io.BytesIO(await download(world, sent)))
    names = sorted(n.split("/", 1)[1] for n in archive.namelist())
    assert names == ["README.md", "data.jsonl"]
    folder = archive.namelist()[0].split("/")[0]
    rows = [json.loads(line) for line in archive.read(f"{folder}/data.jsonl").splitlines()]
    assert len(rows) == 3
    workers = {lb["worker"] for row in rows for lb in row["labels"]}
    assert len(workers) == 1
    assert workers.isdisjoint({1, "1"})  # a pseudonym, not the Telegram id
    assert "Colours" in archive.read(f"{folder}/README.md").decode()
    (event,) = await exported(world)
    assert event["actor"] == ADMIN_ID
    assert event["data"]["format"] == "jsonl"
    # The same /export handled again (after a crash): no second file, no second event.
    rows = await world.repo.all("SELECT data FROM inbox WHERE data LIKE '%/export colours%'")
    await world.app.process_update(Update.de_json(json.loads(rows[0][0]), world.app.bot))
    assert not await boss.messages_after(boss.last_seen, 0.5)
    assert len(await exported(world)) == 1


async def exported(world: World) -> list[dict[str, Any]]:
    """The project.exported events, once the handler has logged one (it does so after the
    file is out, so a moment after the user has it)."""
    for _ in range(100):
        events = [
            e for e in await world.repo.events(world.project.id) if e["kind"] == "project.exported"
        ]
        if events:
            return events
        await asyncio.sleep(0.05)
    return []


async def test_export_says_what_to_do_with_a_wrong_project_or_format(world: World) -> None:
    boss = await admin(world)
    await boss.send("/export nope")
    assert "nope" in (await boss.next_message())["text"]
    await boss.send("/export colours xml")
    reply = (await boss.next_message())["text"]
    assert reply.startswith("Usage: /export")
    assert "jsonl, csv, labels, label-studio" in reply
    worker = world.user(5)
    await worker.create()
    await worker.send("/export colours")
    assert "Export" not in (await worker.next_message())["text"]  # not theirs to export


async def test_audit_shows_the_last_events_with_names(world: World) -> None:
    await label_twice(world, 1)
    boss = await admin(world)
    await boss.send("/audit colours label")
    text = (await boss.next_message())["text"]
    lines = text.splitlines()
    assert lines[0] == "Last 2 events in “Colours”, newest first:"
    assert all("label.recorded" in line and "User1 (1)" in line for line in lines[1:])
    assert "option red" in lines[1]
    await boss.send("/audit colours")
    everything = (await boss.next_message())["text"]
    assert "member.joined" in everything


async def test_leave_asks_then_leaves_once_and_keeps_the_labels(world: World) -> None:
    user = await label_twice(world, 1)
    await user.send("/leave")
    ask = await user.next_message()
    assert "Leave “Colours”?" in ask["text"]
    yes, _ = [d for _, d in buttons(ask)]
    cb = await user.press(ask, data=yes)
    assert (await user.answer(cb))["answered"]
    assert (await user.message(ask["message_id"]))["text"].startswith("You left “Colours”.")
    assert await world.repo.role_of(1, world.project.id) is None
    assert len(await world.repo.live_labels(world.project.id)) == 2
    # A second tap (a client can still send it): the same outcome, nothing more happens.
    again = await user.press(ask, data=yes, strict=False)
    assert (await user.answer(again))["answered"]
    assert (await user.message(ask["message_id"]))["text"].startswith("You left")
    forged = await user.press(
        ask, data=yes.replace(f":{world.project.id}:", ":999:"), strict=False
    )
    assert (await user.answer(forged)).get("text", "").startswith("That button is not valid")


async def test_forget_erases_the_person_from_the_database(world: World) -> None:
    user = await label_twice(world, 4242)
    await user.send("/forget")
    ask = await user.next_message()
    assert ask["text"].startswith("Forget me")
    yes = next(d for label, d in buttons(ask) if label == "Erase me")
    cb = await user.press(ask, data=yes)
    assert (await user.answer(cb))["answered"]
    done = await user.message(ask["message_id"])
    assert done["text"].startswith("Done: Labelgram no longer knows who you are. 2 labels")
    with sqlite3.connect(world.repo.path) as db:
        ids = db.execute(
            "SELECT COUNT(*) FROM labels WHERE worker_id = 4242"
            " UNION ALL SELECT COUNT(*) FROM workers WHERE id = 4242 OR first_name = 'User4242'"
            " UNION ALL SELECT COUNT(*) FROM events WHERE actor = 4242"
        ).fetchall()
        assert ids == [(0,), (0,), (0,)]
        kept = db.execute("SELECT COUNT(*) FROM labels WHERE worker_id < 0").fetchone()
        assert kept == (2,)
