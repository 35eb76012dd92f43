"""Korean coverage of the coordinator's tools: problem reports, the roster, the work report,
invites, a broadcast, the digest and project life, walked by a Korean coordinator and Korean
workers; every text the bot itself wrote to them needs Hangul (`tests.korean`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sandbox.client import JSON, SandboxUser, buttons
from storage.models import Role, SampleIn
from tests.conftest import make_spec
from tests.e2e.test_korean import (  # noqa: F401  (kworld: the fixture)
    KoreanWorld,
    first,
    kworld,
    labels,
    settle,
    text_of,
    until,
)

ANIMALS = [SampleIn(ext_id=f"a{i}", text=f"animal a{i}") for i in range(4)]


def has(prefix: str) -> Callable[[JSON], bool]:
    """A message with a button whose data starts with `prefix`."""
    return lambda m: any(data.startswith(prefix) for _, data in buttons(m))


async def edited(user: SandboxUser, message: JSON, prefix: str) -> JSON:
    """The message once the bot has edited buttons starting with `prefix` into it."""
    for _ in range(100):
        now = await user.message(message["message_id"])
        if any(data.startswith(prefix) for _, data in buttons(now)):
            return now
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {prefix} buttons on message {message['message_id']}")


async def start_labeling(user: SandboxUser) -> JSON:
    await user.send("/start")
    guide = await until(user, has("v1:go:"))
    await user.press(guide, data=first(guide, "v1:go:"))
    return await until(user, lambda m: bool(labels(m)))


async def test_a_korean_coordinator_runs_a_project_in_korean(
    kworld: KoreanWorld,  # noqa: F811  (the fixture imported above)
) -> None:
    w = kworld
    animals = await w.repo.create_project(
        make_spec(name="Animals", slug="animals", overlap=2, quality={"gold_rate": 0})
    )
    await w.repo.import_samples(animals.id, ANIMALS)
    w.check.exempt |= {"Animals", "animals", *(s.text or "" for s in ANIMALS)}
    boss = await w.joined(70, animals, Role.COORDINATOR)
    one = await w.joined(71, animals, Role.WORKER)
    two = await w.joined(72, animals, Role.WORKER)

    # --- two workers report the same sample, one with a note: it is held --------------------
    for worker, note in ((one, "글자가 깨져 보여요"), (two, None)):
        card = await start_labeling(worker)
        await worker.answer(await worker.press(card, data=first(card, "v1:r:")))
        reasons = await edited(worker, card, "v1:rr:")
        asked = await worker.answer(await worker.press(reasons, data=first(reasons, "v1:rr:")))
        assert "메모" in asked["text"]  # the bot invites a note
        if note is not None:
            w.check.exempt.add(note)
            await worker.send(note)
            await until(worker, lambda m: "📝" in text_of(m))
    # --- /reports: the card, then Dismiss; the reporters are told --------------------------
    await boss.send("/reports animals")
    card = await until(boss, has("v1:ra:"))
    dismiss = next(data for _, data in buttons(card) if data.endswith(":dismiss"))
    await boss.answer(await boss.press(card, data=dismiss))
    await until(one, lambda m: "👍" in text_of(m) or "신고" in text_of(m))
    # --- the roster: a page, a worker's card, the work report, invites ----------------------
    await boss.send("/workers animals")
    roster = await until(boss, has("v1:wc:"))
    await boss.answer(await boss.press(roster, data=first(roster, "v1:wc:")))
    await boss.send("/workreport animals")
    await until(boss, lambda m: "document" in m, timeout=30)
    await boss.send("/invite animals reviewer 3 1")
    await boss.next_message()
    await boss.send("/invites animals")
    invites = await until(boss, has("v1:ivx:"))
    await boss.answer(await boss.press(invites, data=first(invites, "v1:ivx:")))
    # --- a broadcast: compose, audience, preview, send, the delivery report -----------------
    await boss.send("/broadcast animals")
    await until(boss, lambda m: "📣" in text_of(m))
    await boss.send("내일은 쉬어요")  # the coordinator's own message: copied, never checked
    audience = await until(boss, has("v1:bca:"))
    await boss.answer(await boss.press(audience, data=first(audience, "v1:bca:")))
    preview = await until(boss, has("v1:bcs:"))
    send = next(data for text, data in buttons(preview) if "보내기" in text)
    await boss.answer(await boss.press(preview, data=send))
    await until(boss, lambda m: "걸린 시간" in text_of(m), most=20, timeout=30)  # the report
    await boss.send("/broadcasts animals")
    await boss.next_message()
    # --- the digest now: its text and its chart ---------------------------------------------
    await boss.send("/digest animals")
    await until(boss, lambda m: "photo" in m, most=20, timeout=60)
    # --- project life ---------------------------------------------------------------------------
    for command in ("/pause animals", "/resume animals", "/close animals"):
        await boss.send(command)
        await boss.next_message(timeout=30)
    await settle(w.check.log)

    texts = w.check.texts()
    assert {t.chat_id for t in texts} >= {70, 71, 72}
    used = w.check.seen(["sendMessage", "sendDocument", "sendPhoto", "answerCallbackQuery"])
    assert used == {"sendMessage", "sendDocument", "sendPhoto", "answerCallbackQuery"}
    problems = w.check.problems()
    assert problems == [], "\n".join(
        f"{p.method} {p.where} to {p.chat_id}: {p.text!r}" for p in problems
    )
