"""Problem reports end to end: a note, a hold after two reporters, the batched notice,
/reports cards and their decisions (fix, exclude, dismiss), reporters told, forged buttons
refused, redelivered updates deciding nothing twice."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.reports import NOTICE_JOB
from sandbox.client import JSON, SandboxUser, buttons
from sandbox.server import SandboxServer
from services.export import export_project
from storage.models import Role, SampleIn
from tests.e2e.conftest import ADMIN_ID, World, start_world
from tests.e2e.test_labeling_flow import tiny_png
from tests.e2e.test_replays import count, handled, quiet, replay


@pytest.fixture
async def one_sample(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[World]:
    samples = [SampleIn(ext_id="s0", text="the cat sat on the")]
    async for w in start_world(sandbox, tmp_path, samples, overlap=3):
        yield w


@pytest.fixture
async def two_samples(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[World]:
    samples = [SampleIn(ext_id=f"s{i}", text=f"sample text {i}") for i in range(2)]
    async for w in start_world(sandbox, tmp_path, samples, overlap=1, report_hold=1):
        yield w


def data_of(message: JSON, prefix: str) -> str:
    return next(d for _, d in buttons(message) if d.startswith(prefix))


async def report(user: SandboxUser, card: JSON, reason: str) -> str:
    """Report the card with a reason; the toast the worker saw."""
    asked = await user.press(card, data=data_of(card, "v1:r:"))
    await user.answer(asked)
    for _ in range(100):  # the reasons replace the card's buttons (edited as it answers)
        edited = await user.message(card["message_id"])
        reasons = [d for _, d in buttons(edited) if d.startswith("v1:rr:")]
        if reasons:
            break
        await asyncio.sleep(0.05)
    assert len(reasons) == 3
    cb = await user.press(edited, data=next(d for d in reasons if d.endswith(f":{reason}")))
    return str((await user.answer(cb))["text"])


async def wait_for(user: SandboxUser, needle: str, wait_s: float = 5.0) -> JSON:
    """The next message of the user's that contains `needle` (others are passed over)."""
    for _ in range(20):
        message = await user.next_message(wait_s)
        if needle in (message.get("text") or message.get("caption") or ""):
            return message
    raise AssertionError(f"no message with {needle!r}")


async def edited_to(user: SandboxUser, message: JSON, button: str) -> JSON:
    """The message once an edit gave it `button` (edits go out beside the answer)."""
    for _ in range(100):
        now = await user.message(message["message_id"])
        if any(label == button for label, _ in buttons(now)):
            return now
        await asyncio.sleep(0.05)
    raise AssertionError(f"no button {button!r} on message {message['message_id']}")


async def edited_text(user: SandboxUser, message: JSON, needle: str) -> JSON:
    """The message once an edit put `needle` in its text."""
    for _ in range(100):
        now = await user.message(message["message_id"])
        if needle in (now.get("text") or ""):
            return now
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {needle!r} in message {message['message_id']}")


async def run_notice_job(world: World) -> None:
    job_queue = world.app.job_queue
    assert job_queue is not None
    (job,) = job_queue.get_jobs_by_name(NOTICE_JOB)
    await job.run(world.app)


async def reported_card(world: World) -> tuple[SandboxUser, JSON]:
    """Worker 1001 reports their first card as unclear; the admin opens /reports: (the
    admin, the sample's card)."""
    a, card = await world.first_card(1001)
    await report(a, card, "unclear")
    await handled(world)
    admin = world.user(ADMIN_ID)
    await admin.create()
    await admin.send("/reports")
    await admin.next_message()
    return admin, await admin.next_message()


async def ask_fix(admin: SandboxUser, card: JSON) -> tuple[JSON, JSON]:
    """Fix text, keeping the labels, on a /reports card: (the card, the bot's question)."""
    await admin.press(card, text="✏️ Fix text")
    card = await edited_to(admin, card, "Fix, keep its labels")
    await admin.press(card, text="Fix, keep its labels")
    return card, await wait_for(admin, "corrected text")


async def test_held_after_two_reporters_then_fixed_with_labels_cleared(
    one_sample: World,
) -> None:
    world = one_sample
    a, card_a = await world.first_card(1001)
    toast = await report(a, card_a, "unclear")
    assert "add a note" in toast
    await a.send("the sentence is cut off")
    assert "note is added" in (await wait_for(a, "note"))["text"]

    b, card_b = await world.first_card(1002, "ko")
    assert "the cat sat on the" in card_b["text"]
    assert "메모" in await report(b, card_b, "broken")
    await handled(world)
    held = await world.repo.one("SELECT held FROM samples WHERE ext_id = 's0'")
    assert held == ("held",)
    # Nobody gets it now: a third worker is told there is nothing left.
    c, guide = await world.joined(1003)
    await c.press(guide, data=buttons(guide)[0][1])
    assert "buttons" not in str(await wait_for(c, "“Colours”"))  # told, no card
    assert await world.repo.open_card_of(1003, world.project.id) is None

    # One notice for both reports, to the admin (the project has no coordinator); no second.
    admin = world.user(ADMIN_ID)
    await admin.create()
    await admin.send("/start")
    await admin.next_message()
    await run_notice_job(world)
    notice = await wait_for(admin, "new problem reports")
    assert notice["text"] == "🚩 2 new problem reports in “Colours” — /reports"
    await run_notice_job(world)
    assert await quiet(admin) == []

    await admin.send("/reports")
    header = await admin.next_message()
    assert "1 reported samples (2 reports)" in header["text"]
    card = await admin.next_message()
    text = card["text"]
    assert text.startswith("the cat sat on the")
    assert "Reasons: Unclear / ambiguous (1), Broken / won't open (1)" in text
    assert "Reported by: User1001 (1001), User1002 (1002)" in text
    assert "📝 User1001 (1001): the sentence is cut off" in text
    assert "Held out of the pool" in text
    labels = [label for label, _ in buttons(card)]
    assert labels == ["✏️ Fix text", "🗑 Exclude", "👍 Dismiss", "📖 Guide"]

    await admin.press(card, text="✏️ Fix text")
    card = await edited_to(admin, card, "Fix, clear its labels")
    await admin.press(card, text="Fix, clear its labels")
    assert "corrected text" in (await admin.next_message())["text"]
    await admin.send("the cat sat on the mat")
    done = await admin.next_message()
    assert "corrected" in done["text"]
    assert "Reporters told: 2" in done["text"]
    for user, needle in ((a, "was corrected"), (b, "고쳤어요")):  # each in their language
        told = await wait_for(user, needle)
        assert "“the cat sat on the”" in told["text"]

    sample = await world.repo.one("SELECT text, held FROM samples WHERE ext_id = 's0'")
    assert sample == ("the cat sat on the mat", None)
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind = 'sample.fixed'") == 1
    event = await world.repo.one("SELECT data FROM events WHERE kind = 'sample.fixed'")
    assert event is not None
    assert json.loads(event[0])["old_text"] == "the cat sat on the"
    assert await count(world, "SELECT COUNT(*) FROM reports WHERE decision = 'fixed'") == 2
    # Back in the pool, with the corrected text.
    again = await world.repo.next_card(1003, world.project.id)
    assert again is not None
    assert again.sample.text == "the cat sat on the mat"
    # The fix handled again (a redelivery, a crash): nothing twice.
    fix = await handled(world)
    await replay(world, fix)
    assert await quiet(a) == []
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind = 'sample.fixed'") == 1


async def test_excluded_shows_in_export_dismissed_goes_back(
    two_samples: World, tmp_path: Path
) -> None:
    world = two_samples
    a, card = await world.first_card(1001)
    await report(a, card, "broken")
    second = await wait_for(a, "sample text 1")
    await report(a, second, "other")
    await handled(world)
    assert await count(world, "SELECT COUNT(*) FROM samples WHERE held = 'held'") == 2

    admin = world.user(ADMIN_ID)
    await admin.create()
    await admin.send("/reports colours")
    await admin.next_message()
    first, other = await admin.next_message(), await admin.next_message()
    assert first["text"].startswith("sample text 0")
    assert other["text"].startswith("sample text 1")

    # Forged and foreign presses change nothing.
    forged = await admin.press(first, data="v1:ra:99999:exclude", strict=False)
    assert "button" in (await admin.answer(forged))["text"].lower()
    foreign = await a.press(first, data=data_of(first, "v1:ra:"), strict=False)
    assert "button" in (await a.answer(foreign))["text"].lower()
    sample_id = data_of(first, "v1:ra:").split(":")[2]
    for data in (f"v1:rf:{sample_id}:clear", f"v1:rf:{sample_id}:wipe", "v1:ra:1:nuke"):
        forged = await a.press(first, data=data, strict=False)
        assert "button" in (await a.answer(forged))["text"].lower(), data
    pending = await world.repo.pending_reply(1001)
    assert pending is not None
    assert pending.kind == "note"  # still their note: no fix was asked of them
    assert await count(world, "SELECT COUNT(*) FROM reports WHERE decided_at IS NOT NULL") == 0

    await admin.press(first, text="🗑 Exclude")
    told = await wait_for(a, "taken out of the data")
    assert "“sample text 0”" in told["text"]
    excluded = await edited_text(admin, first, "excluded")
    assert "excluded" in excluded["text"]
    assert buttons(excluded) == []
    # The press handled again: no second word to the reporter, one event.
    press = await handled(world)
    await replay(world, press)
    assert await quiet(a) == []
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind = 'sample.excluded'") == 1

    await admin.press(other, text="👍 Dismiss")
    await wait_for(a, "stays as it is")
    assert await world.repo.one("SELECT held FROM samples WHERE ext_id = 's1'") == (None,)
    # Dismissed: back in the pool for others; the excluded one never.
    _, card_b = await world.first_card(1002)
    assert "sample text 1" in card_b["text"]
    assert await world.repo.next_card(1003, world.project.id) is None

    # Exports mark the excluded sample, with its reason; the dataset card counts it.
    out = tmp_path / "out"
    await asyncio.to_thread(export_project, tmp_path / "e2e.db", "colours", "jsonl", out)
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    by_id = {r["id"]: r for r in rows}
    assert by_id["s0"]["status"] == "excluded"
    assert by_id["s0"]["excluded_reason"] == "broken (1)"
    assert by_id["s1"]["status"] != "excluded"
    assert by_id["s1"]["excluded_reason"] is None
    await asyncio.to_thread(export_project, tmp_path / "e2e.db", "colours", "csv", tmp_path / "c")
    with (tmp_path / "c" / "data.csv").open(newline="") as fh:
        table = {r["id"]: r for r in csv.DictReader(fh)}
    assert (table["s0"]["status"], table["s0"]["excluded_reason"]) == ("excluded", "broken (1)")
    assert table["s1"]["excluded_reason"] == ""
    card_text = (out / "README.md").read_text()
    assert "excluded 1)" in card_text
    assert "samples excluded after problem reports: 1" in card_text


async def test_pause_resume_close(world: World) -> None:
    a, card = await world.first_card(1001)
    admin = world.user(ADMIN_ID)
    await admin.create()
    await admin.send("/pause")
    assert "Workers told: 1" in (await wait_for(admin, "paused"))["text"]
    told = await wait_for(a, "is paused")
    assert "“Colours”" in told["text"]
    # The /pause handled again (a redelivery, a crash) tells nobody twice.
    pause = await handled(world)
    await replay(world, pause)
    assert await quiet(a) == []
    assert await quiet(admin) != []  # the coordinator hears the outcome again
    # The card on screen is taken back: its buttons say so, a label on it (a client that still
    # shows the old buttons) is refused and no card comes.
    await edited_to(a, card, "⏸ Paused")
    cb = await a.press(card, data=data_of(card, "v1:l:"), strict=False)
    await a.answer(cb)
    await wait_for(a, "is paused")
    assert await world.repo.open_card_of(1001, world.project.id) is None
    assert await count(world, "SELECT COUNT(*) FROM labels") == 0
    # Pausing again changes nothing.
    await admin.send("/pause")
    assert "already" in (await wait_for(admin, "already"))["text"]

    await admin.send("/resume")
    resumed = await wait_for(a, "going again")
    await a.press(resumed, data=buttons(resumed)[0][1])
    card = await a.next_message()
    assert "text sample" in card["text"]

    await admin.send("/close")
    await wait_for(admin, "closed")
    await wait_for(a, "is closed")
    await edited_to(a, card, "🏁 Closed")
    cb = await a.press(card, data=data_of(card, "v1:l:"), strict=False)
    await a.answer(cb)
    await handled(world)
    assert await count(world, "SELECT COUNT(*) FROM labels") == 0
    kinds = await world.repo.all("SELECT kind FROM events WHERE kind LIKE 'project.%' ORDER BY id")
    life = [k[0] for k in kinds if k[0] != "project.created"]
    assert life == ["project.paused", "project.resumed", "project.closed"]


async def test_guide_button_makes_a_new_guide_version_and_cancel_changes_nothing(
    two_samples: World,
) -> None:
    world = two_samples
    a, card = await world.first_card(1001)
    await report(a, card, "unclear")
    await handled(world)
    admin = world.user(ADMIN_ID)
    await admin.create()
    await admin.send("/reports")
    await admin.next_message()
    first = await admin.next_message()

    # Fix text, then Cancel: the next text is not taken for the sample.
    await admin.press(first, text="✏️ Fix text")
    first = await edited_to(admin, first, "Fix, keep its labels")
    await admin.press(first, text="Fix, keep its labels")
    asked = await wait_for(admin, "corrected text")
    cancel = await admin.press(asked, text="Cancel")
    assert "nothing changed" in (await admin.answer(cancel))["text"]
    await edited_text(admin, asked, "Cancelled")
    await admin.send("this is not a fix")
    await handled(world)
    assert await world.repo.one("SELECT text FROM samples WHERE ext_id = 's0'") == (
        "sample text 0",
    )
    assert await count(world, "SELECT COUNT(*) FROM reports WHERE decided_at IS NULL") == 1

    # Guide: the next text becomes guide version 2 (the sample stays held until decided).
    first = await edited_to(admin, first, "📖 Guide")
    await admin.press(first, text="📖 Guide")
    asked = await wait_for(admin, "new guide")
    assert "Pick the main colour." in asked["text"]
    await admin.send("x" * 4090)  # would not fit the guide message: refused, still asked
    refused = await wait_for(admin, "Send a shorter one")
    assert "4090 characters" in refused["text"]
    assert len(await world.repo.guide_versions(world.project.id)) == 1
    await admin.send("Pick the colour of the largest area.")
    done = await wait_for(admin, "is now version 2")
    assert "“Colours” (English)" in done["text"]
    versions = await world.repo.guide_versions(world.project.id)
    assert [(v, g["en"]) for v, g, _ in versions][-1] == (
        2,
        "Pick the colour of the largest area.",
    )
    assert versions[-1][1]["ko"] == "주된 색을 고르세요."  # the other language kept
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind = 'project.updated'") == 1
    assert await world.repo.one("SELECT held FROM samples WHERE ext_id = 's0'") == ("held",)
    # Workers get the new guide.
    await a.send("/guide")
    assert "largest area" in (await wait_for(a, "largest area"))["text"]


async def test_a_report_and_its_note_handled_twice_count_once(world: World) -> None:
    a, card = await world.first_card(1001)
    await report(a, card, "other")
    press = await handled(world)
    await a.send("typo in the second word")
    await wait_for(a, "note is added")
    note = await handled(world)
    for update_id in (press, note):
        await replay(world, update_id)
    await handled(world)
    assert await count(world, "SELECT COUNT(*) FROM reports") == 1
    assert await count(world, "SELECT COUNT(*) FROM events WHERE kind = 'report.note'") == 1
    assert await world.repo.one("SELECT note FROM reports") == ("typo in the second word",)
    # The question is answered: the next text is not a note any more.
    await a.send("hello")
    await handled(world)
    assert await world.repo.one("SELECT note FROM reports") == ("typo in the second word",)


async def test_a_photo_card_for_the_coordinator_who_gets_the_notice(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    photo = tiny_png(tmp_path / "p.png", (0, 0, 255))
    samples = [SampleIn(ext_id="p1", kind="photo", media=str(photo), text="sky at noon")]
    async for world in start_world(sandbox, tmp_path, samples, overlap=2, report_hold=1):
        a, card = await world.first_card(1001)
        assert "photo" in card
        await report(a, card, "broken")
        code = await world.repo.create_invite(world.project.id, Role.COORDINATOR)
        boss = world.user(2001, "ko")
        await boss.create()
        await boss.send(f"/start {code}")
        await handled(world)
        await boss.messages_after(boss.last_seen, 1.0)  # joined, guide, menus
        admin = world.user(ADMIN_ID)
        await admin.create()
        await run_notice_job(world)
        notice = await wait_for(boss, "새 문제 신고가 1건")
        assert "“Colours”" in notice["text"]
        assert await quiet(admin) == []  # the project has a coordinator: not the admins

        await boss.send("/reports")
        await wait_for(boss, "신고된 샘플 1개")
        shown = await boss.next_message()
        assert "photo" in shown
        caption = shown["caption"]
        assert caption.startswith("sky at noon")
        reasons = caption.split("사유: ")[1].split("\n")[0]
        assert reasons.endswith(" 1건")  # the reason's Korean text, counted
        assert "깨" in reasons
        assert "신고한 작업자: User1001(1001)" in caption
        await boss.press(shown, text="🗑 제외")
        await wait_for(a, "taken out of the data")
        for _ in range(100):
            now = await boss.message(shown["message_id"])
            if "제외 완료" in (now.get("caption") or ""):
                break
            await asyncio.sleep(0.05)
        assert "제외 완료" in now["caption"]
        assert buttons(now) == []


async def test_a_command_drops_the_open_question_so_a_broadcast_is_not_taken_for_it(
    two_samples: World,
) -> None:
    world = two_samples
    admin, first = await reported_card(world)
    await ask_fix(admin, first)
    # The coordinator moves on without answering: the next text is the broadcast's.
    await admin.send("/broadcast colours")
    await wait_for(admin, "Send me the message")
    await admin.send("Team meeting at 5pm today")
    await wait_for(admin, "Who should get it")
    await handled(world)
    assert await world.repo.one("SELECT text FROM samples WHERE ext_id = 's0'") == (
        "sample text 0",
    )
    assert await count(world, "SELECT COUNT(*) FROM reports WHERE decided_at IS NULL") == 1
    sql = "SELECT COUNT(*) FROM pending_replies WHERE user_id = ?"
    assert await count(world, sql, ADMIN_ID) == 0
    assert await count(world, sql, 1001) == 1  # the reporter's note question is theirs


async def test_a_closed_projects_reports_and_guide_stay_as_they_are(two_samples: World) -> None:
    world = two_samples
    admin, first = await reported_card(world)
    await world.repo.set_project_state(world.project.id, "closed", actor=ADMIN_ID)
    for button in ("🗑 Exclude", "📖 Guide", "✏️ Fix text"):
        answer = await admin.answer(await admin.press(first, text=button))
        assert "is closed" in answer["text"], button
    await handled(world)
    assert await count(world, "SELECT COUNT(*) FROM reports WHERE decided_at IS NULL") == 1
    assert (
        await count(world, "SELECT COUNT(*) FROM pending_replies WHERE user_id = ?", ADMIN_ID) == 0
    )
    assert await world.repo.one("SELECT held FROM samples WHERE ext_id = 's0'") is not None
    assert len(await world.repo.guide_versions(world.project.id)) == 1


async def test_cancel_under_an_older_question_leaves_the_newer_one_open(
    two_samples: World,
) -> None:
    world = two_samples
    admin, first = await reported_card(world)
    first, asked_fix = await ask_fix(admin, first)
    first = await edited_to(admin, first, "📖 Guide")
    await admin.press(first, text="📖 Guide")
    await wait_for(admin, "new guide")
    answer = await admin.answer(await admin.press(asked_fix, text="Cancel"))
    assert "no longer open" in answer["text"]
    await handled(world)
    pending = await world.repo.pending_reply(ADMIN_ID)
    assert pending is not None
    assert pending.kind == "guide"
