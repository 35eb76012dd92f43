from __future__ import annotations

import asyncio

import pytest
from telegram.error import RetryAfter

from bot.flood import FloodGuard


def flaky(failures: int, log: list[str]):  # type: ignore[no-untyped-def]
    async def call(name: str) -> dict[str, str]:
        log.append(name)
        if log.count(name) <= failures:
            raise RetryAfter(0)
        return {"sent": name}

    return call


async def send(guard: FloodGuard, call, name: str, endpoint: str = "sendMessage"):  # type: ignore[no-untyped-def]
    return await guard.process_request(call, (name,), {}, endpoint, {"chat_id": 1}, None)


async def test_a_429_is_waited_out_and_retried_not_raised() -> None:
    log: list[str] = []
    guard = FloodGuard(None, patience_s=5.0)
    assert await send(guard, flaky(3, log), "card") == {"sent": "card"}
    assert log == ["card"] * 4


async def test_past_its_patience_the_guard_gives_up() -> None:
    log: list[str] = []
    guard = FloodGuard(None, patience_s=0.0)
    with pytest.raises(RetryAfter):
        await send(guard, flaky(1, log), "card")


async def test_a_pause_holds_other_sends_but_not_callback_answers() -> None:
    guard = FloodGuard(None, patience_s=5.0)
    seen: list[str] = []

    async def call(name: str) -> bool:
        seen.append(name)
        if name == "first" and seen.count("first") == 1:
            raise RetryAfter(1)
        return True

    pausing = asyncio.create_task(send(guard, call, "first"))
    await asyncio.sleep(0.05)  # the guard is now pausing for 1 s
    other = asyncio.create_task(send(guard, call, "other"))
    answer = asyncio.create_task(send(guard, call, "answer", "answerCallbackQuery"))
    await asyncio.sleep(0.2)
    assert seen == ["first", "answer"]  # the answer went through, the other send waits
    await asyncio.gather(pausing, other, answer)
    assert sorted(seen[2:]) == ["first", "other"]


async def test_a_pause_whose_sleeper_is_cancelled_does_not_hold_sends_for_ever() -> None:
    guard = FloodGuard(None, patience_s=60.0)

    async def limited(name: str) -> bool:
        raise RetryAfter(30)

    async def fine(name: str) -> bool:
        return True

    pausing = asyncio.create_task(send(guard, limited, "first"))
    await asyncio.sleep(0.05)  # pausing everything for 30 s
    pausing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pausing
    assert await asyncio.wait_for(send(guard, fine, "next"), 1.0)
