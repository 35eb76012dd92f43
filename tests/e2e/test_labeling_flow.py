from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Update

from sandbox.client import JSON, SandboxUser, buttons
from sandbox.server import SandboxServer
from storage.models import SampleIn
from tests.e2e.conftest import ADMIN_ID, World, start_world


def label_buttons(card: JSON) -> list[tuple[str, str]]:
    return [b for b in buttons(card) if b[1].startswith("v1:l:")]


async def shows(
    user: SandboxUser, card: JSON, expected: list[tuple[str, str]], wait_s: float = 5.0
) -> bool:
    """Whether the card comes to show exactly these buttons within `wait_s`."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while asyncio.get_running_loop().time() < deadline:
        if buttons(await user.message(card["message_id"])) == expected:
            return True
        await asyncio.sleep(0.01)
    return False


async def edited(user: SandboxUser, card: JSON, wait_s: float = 5.0) -> JSON:
    """The card once the bot has edited it (edits run alongside the next send)."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        current = await user.message(card["message_id"])
        if current.get("reply_markup") != card.get("reply_markup"):
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"message {card['message_id']} was not edited")
        await asyncio.sleep(0.01)


async def test_join_by_deep_link_shows_guide_and_start(world: World) -> None:
    user = world.user(1)
    await user.create()
    await user.send(f"/start {world.invite}")
    joined = await user.next_message()
    assert "You joined “Colours” as a worker" in joined["text"]
    guide = await user.next_message()
    assert "Pick the main colour." in guide["text"]
    assert buttons(guide) == [("▶ Start labeling", f"v1:go:{world.project.id}")]


async def test_bad_invite_and_no_invite_get_clear_messages(world: World) -> None:
    user = world.user(2)
    await user.create()
    await user.send("/start not-a-real-code")
    assert "not valid" in (await user.next_message())["text"]
    await user.send("/start")
    assert "invite link" in (await user.next_message())["text"]


async def test_tap_records_label_marks_card_and_sends_next(world: World) -> None:
    user, card = await world.first_card(1)
    assert card["text"].startswith("text sample")
    assert "❓ Which colour?" in card["text"]
    red = label_buttons(card)[0]
    assert red[0] == "Red"
    cb = await user.press(card, data=red[1])
    nxt = await user.next_message()
    answer = await user.answer(cb)
    assert answer["answered"]
    assert answer["text"] == "Saved: Red"
    assert nxt["text"].startswith("text sample")
    assert nxt["text"] != card["text"]
    assert buttons(await edited(user, card)) == [("✓ Red", "v1:n")]
    labels = await world.repo.live_labels(world.project.id)
    assert [(lb.worker_id, lb.option_key) for lb in labels] == [(1, "red")]


async def test_double_tap_records_one_label(world: World) -> None:
    user, card = await world.first_card(1)
    green = label_buttons(card)[1]
    first = await user.press(card, data=green[1])
    second = await user.press(card, data=label_buttons(card)[2][1])
    answers = [await user.answer(first), await user.answer(second)]
    assert sorted(a["text"] for a in answers) == ["Already saved: Green", "Saved: Green"]
    labels = await world.repo.live_labels(world.project.id)
    assert [lb.option_key for lb in labels] == ["green"]


async def test_replayed_update_records_one_label(world: World) -> None:
    _user, card = await world.first_card(1)
    red = label_buttons(card)[0]
    update = Update.de_json(
        {
            "update_id": 10_000,
            "callback_query": {
                "id": "replayed-1",
                "from": {"id": 1, "is_bot": False, "first_name": "User1"},
                "chat_instance": "ci-1",
                "data": red[1],
                "message": card,
            },
        },
        world.app.bot,
    )
    await world.app.process_update(update)
    await world.app.process_update(update)
    assert len(await world.repo.live_labels(world.project.id)) == 1


async def test_forged_and_malformed_callbacks_record_nothing(world: World) -> None:
    user, card = await world.first_card(1)
    _other, other_card = await world.first_card(2)
    foreign = label_buttons(other_card)[0][1]  # worker 2's assignment
    aid = foreign.split(":")[2]
    for data in (foreign, f"v1:l:{aid}:7", "v1:l:abc:0", "hello", "v9:l:1:0", "v1:rr:1:evil"):
        cb = await user.press(card, data=data, strict=False)
        answer = await user.answer(cb)
        assert answer["answered"]
        assert "not valid" in answer["text"], data
    assert await world.repo.live_labels(world.project.id) == []


async def test_expired_card_records_nothing_and_a_fresh_one_arrives(world: World) -> None:
    user, card = await world.first_card(1)
    await world.repo.db.execute("UPDATE assignments SET expires_at = 0 WHERE status = 'open'")
    cb = await user.press(card, data=label_buttons(card)[0][1])
    fresh = await user.next_message()
    assert "expired" in (await user.answer(cb))["text"]
    assert label_buttons(fresh)
    assert fresh["text"] != card["text"]
    assert await world.repo.live_labels(world.project.id) == []
    assert buttons(await edited(user, card))[0][0] == "⌛ No longer active"


async def test_undo_takes_back_and_shows_the_sample_again(world: World) -> None:
    user, card = await world.first_card(1)
    await user.press(card, data=label_buttons(card)[1][1])
    held = await user.next_message()
    await user.send("/undo")
    assert "taken back" in (await user.next_message())["text"]
    again = await user.next_message()
    assert again["text"] == card["text"]
    assert await world.repo.live_labels(world.project.id) == []
    # the card shown in between, and the answered one, no longer have live buttons
    retired = [("⌛ Replaced by the card below", "v1:n")]
    assert await shows(user, held, retired)
    assert await shows(user, card, retired)
    # a client that presses the old button anyway is told, and keeps the card it has
    cb = await user.press(held, data=label_buttons(held)[0][1], strict=False)
    assert "no longer active" in (await user.answer(cb))["text"]
    await user.press(again, data=label_buttons(again)[2][1])
    await user.next_message()
    labels = await world.repo.live_labels(world.project.id)
    assert [lb.option_key for lb in labels] == ["blue"]


async def test_all_done_when_nothing_is_left(world: World) -> None:
    user, card = await world.first_card(1)
    for _ in range(3):
        await user.press(card, data=label_buttons(card)[0][1])
        card = await user.next_message()
    assert "All done" in card["text"]
    assert not buttons(card)
    await user.send("/me")
    assert "Labels: 3" in (await user.next_message())["text"]


async def test_skip_and_report_move_on(world: World) -> None:
    user, card = await world.first_card(1)
    skip = next(b for b in buttons(card) if b[0] == "↷ Skip")
    await user.press(card, data=skip[1])
    card2 = await user.next_message()
    report = next(b for b in buttons(card2) if b[0] == "⚠ Report problem")
    await user.press(card2, data=report[1])
    reasons = await edited(user, card2)
    broken = next(b for b in buttons(reasons) if b[1].endswith(":broken"))
    await user.press(reasons, data=broken[1])
    card3 = await user.next_message()
    assert label_buttons(card3)
    status = await world.repo.project_status(world.project.id)
    assert status.reports == 1
    assert status.labels == 0


async def test_worker_cannot_run_coordinator_commands(world: World) -> None:
    user, _ = await world.joined(1)
    for command in ("/status", "/invite colours coordinator"):
        await user.send(command)
        assert "for coordinators" in (await user.next_message())["text"]


async def test_admin_invites_and_sees_status(world: World) -> None:
    admin = world.user(ADMIN_ID)
    await admin.create()
    await admin.send("/invite colours coordinator")
    reply = (await admin.next_message())["text"]
    assert "https://t.me/labelgram_sandbox_bot?start=c" in reply
    code = reply.rsplit("start=", 1)[1].strip()
    coordinator = world.user(3)
    await coordinator.create()
    await coordinator.send(f"/start {code}")
    assert "as a coordinator" in (await coordinator.next_message())["text"]
    await coordinator.next_message()
    await coordinator.send("/status")
    assert "Samples done: 0/3" in (await coordinator.next_message())["text"]
    await coordinator.send("/invite colours coordinator")
    assert "Only admins" in (await coordinator.next_message())["text"]


async def test_korean_interface_and_lang_switch(world: World) -> None:
    user, card = await world.first_card(5, lang="ko")
    assert [b[0] for b in label_buttons(card)] == ["빨강", "초록", "파랑"]
    await user.send("/lang")
    choose = await user.next_message()
    cb = await user.press(choose, text="English")
    assert (await user.answer(cb))["text"] == "Language: English"
    await user.send("/help")
    assert "/undo" in (await user.next_message())["text"]
    await user.send("/me")
    assert "Your work" in (await user.next_message())["text"]


def tiny_png(path: Path, rgb: tuple[int, int, int]) -> Path:
    raw = b"".join(b"\x00" + bytes(rgb) * 4 for _ in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
    path.write_bytes(png + chunk(b"IEND", b""))
    return path


@pytest.fixture
async def photo_world(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[World]:
    samples = [
        SampleIn(ext_id="p1", kind="photo", media=str(tiny_png(tmp_path / "r.png", (255, 0, 0)))),
        SampleIn(ext_id="p2", kind="photo", media=str(tmp_path / "missing.png")),
    ]
    async for w in start_world(sandbox, tmp_path, samples, overlap=2):
        yield w


async def test_photo_sample_uploads_once_then_reuses_file_id(photo_world: World) -> None:
    world = photo_world
    user, card = await world.first_card(1)
    assert card["photo"][-1]["width"] == 4
    assert card["caption"] == "❓ Which colour?\n📁 Colours"  # the question, its project
    file_id = card["photo"][-1]["file_id"]
    for _ in range(200):  # the bot stores the file_id right after the send returns
        stored = await world.repo.one("SELECT file_id FROM samples WHERE ext_id = 'p1'")
        if stored != (None,):
            break
        await asyncio.sleep(0.01)
    assert stored == (file_id,)
    _other, card2 = await world.first_card(2)
    assert card2["photo"][-1]["file_id"] == file_id
    await user.press(card, data=label_buttons(card)[0][1])
    # the other photo's file is missing: reported automatically, the worker is told, no crash
    notice = await user.next_message()
    assert "could not be shown" in notice["text"]
    done = await user.next_message()
    assert "All done" in done["text"]
    assert (await world.repo.project_status(world.project.id)).reports == 1


async def test_idle_worker_is_told_when_new_samples_arrive(world: World) -> None:
    from handlers.jobs import housekeeping

    user, card = await world.first_card(1)
    for _ in range(3):
        await user.press(card, data=label_buttons(card)[0][1])
        card = await user.next_message()
    assert "All done" in card["text"]
    await world.repo.import_samples(world.project.id, [SampleIn(ext_id="late", text="late one")])
    assert world.app.job_queue is not None
    world.app.job_queue.run_once(housekeeping, 0)
    note = await user.next_message()
    assert "New samples are ready" in note["text"]
    await user.press(note, text="▶ Start labeling")
    assert (await user.next_message())["text"].startswith("late one")


async def test_guide_is_one_tap_away_on_every_card(world: World) -> None:
    user, card = await world.first_card(1)
    await user.press(card, text="📖 Guide")
    guide = await user.next_message()
    assert "Pick the main colour." in guide["text"]
    await user.send("/guide")
    assert "Pick the main colour." in (await user.next_message())["text"]
    # the card is still there to answer
    await user.press(card, data=label_buttons(card)[0][1])
    assert label_buttons(await user.next_message())


async def test_a_failure_is_logged_the_user_told_and_admins_alerted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = world.user(ADMIN_ID)
    await admin.create()
    await admin.send("/help")  # an admin who has talked to the bot can be alerted
    await admin.next_message()
    user, card = await world.first_card(1)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(world.repo, "tap", broken)
    cb = await user.press(card, data=label_buttons(card)[0][1])
    assert "Something went wrong" in (await user.answer(cb))["text"]
    alert = await admin.next_message()
    assert "Labelgram error" in alert["text"]
    assert "disk on fire" in alert["text"]


async def test_coordinator_uploads_a_file_and_gets_the_report(world: World) -> None:
    from storage.models import Role

    code = await world.repo.create_invite(world.project.id, Role.COORDINATOR)
    coordinator = world.user(3)
    await coordinator.create()
    await coordinator.send(f"/start {code}")
    await coordinator.next_message()
    await coordinator.next_message()
    data = "review,answer\n새로운 샘플,red\n,red\nanother one,purple\n".encode("cp949")
    await coordinator.send_document("batch.csv", data, caption="text=review gold=answer")
    summary = (await coordinator.next_message())["text"]
    assert "batch.csv (csv, cp949): 3 rows read, 1 kept" in summary
    assert "row 3: empty or only whitespace" in summary
    assert "gold label 'purple' is not an option" in summary
    full = await coordinator.next_message()
    assert full["document"]["file_name"] == "batch-report.json"
    assert (await world.repo.project_status(world.project.id)).samples == 4
    assert (await world.repo.imports(world.project.id))[0].source == "batch.csv"
    await coordinator.send("/status")
    status = (await coordinator.next_message())["text"]
    assert "Last import: batch.csv — 3 rows read, 1 added, 2 dropped" in status

    worker, _ = await world.joined(1)
    await worker.send_document("sneaky.csv", b"text\nmine\n")
    assert "Only coordinators" in (await worker.next_message())["text"]
    assert (await world.repo.project_status(world.project.id)).samples == 4
