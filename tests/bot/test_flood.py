from __future__ import annotations

import asyncio
import time

import pytest
from telegram.error import RetryAfter

from bot.flood import SPARE, FloodGuard, SharedRate


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


async def test_a_restarted_bot_starts_at_the_steady_rate_not_with_a_burst() -> None:
    rate = SharedRate(50.0)
    started = time.monotonic()
    for _ in range(10):
        await rate.take()
    # Full at start (Telegram remembers what the killed process sent): 10 tokens at 50/s.
    assert time.monotonic() - started >= 0.15


async def test_the_spare_lane_leaves_the_reserve_and_yields_to_waiting_sends() -> None:
    rate = SharedRate(20.0, capacity=10.0, reserve=3.0)  # (5 by default)
    await asyncio.sleep(0.55)  # the bucket drains: 10 tokens free
    for _ in range(7):
        await asyncio.wait_for(rate.take_spare(), 0.01)
    # The last three tokens are the first lane's: the spare lane waits for the leak...
    spare = asyncio.create_task(rate.take_spare())
    await asyncio.sleep(0.01)
    assert not spare.done()
    # ... while a first-lane send gets one at once.
    await asyncio.wait_for(rate.take(), 0.01)
    await asyncio.wait_for(spare, 1.0)
    assert (rate.taken, rate.spare_taken) == (1, 8)


async def test_spare_sends_wait_behind_first_lane_sends() -> None:
    guard = FloodGuard(20.0, patience_s=5.0)
    rate = guard.rate
    assert rate is not None
    await asyncio.sleep(1.05)  # the bucket drains
    order: list[str] = []

    async def call(name: str) -> bool:
        order.append(name)
        return True

    async def burst() -> None:
        for i in range(20):  # more than the bucket holds: later ones wait for tokens
            await send(guard, call, f"card{i}")

    async def spare(name: str) -> None:
        await guard.process_request(call, (name,), {}, "copyMessage", {}, SPARE)

    cards = asyncio.create_task(burst())
    await asyncio.sleep(0)
    await asyncio.gather(cards, spare("copy"))
    # The copy went only once no card was waiting for the budget.
    assert order.index("copy") > order.index("card16")
    assert (rate.taken, rate.spare_taken) == (20, 1)


async def to_chat(guard: FloodGuard, call, name: str, chat: int):  # type: ignore[no-untyped-def]
    return await guard.process_request(call, (name,), {}, "sendMessage", {"chat_id": chat}, None)


async def test_one_chat_s_429_holds_that_chat_only() -> None:
    guard = FloodGuard(None, patience_s=5.0)
    seen: list[str] = []

    async def call(name: str) -> bool:
        seen.append(name)
        if name == "a1" and seen.count("a1") == 1:
            raise RetryAfter(1)
        return True

    first = asyncio.create_task(to_chat(guard, call, "a1", 1))
    await asyncio.sleep(0.05)  # chat 1 waits out its 1 s
    same = asyncio.create_task(to_chat(guard, call, "a2", 1))
    assert await asyncio.wait_for(to_chat(guard, call, "b1", 2), 0.5)  # another chat: at once
    await asyncio.sleep(0.1)
    assert "a2" not in seen  # chat 1's next send waits for its pause
    await asyncio.gather(first, same)
    assert seen.index("a2") > seen.index("b1")


async def test_429s_in_several_chats_at_once_pause_every_send() -> None:
    guard = FloodGuard(None, patience_s=5.0)
    seen: list[str] = []

    async def call(name: str) -> bool:
        seen.append(name)
        if name.startswith("hit") and seen.count(name) == 1:
            raise RetryAfter(1)
        return True

    hits = [asyncio.create_task(to_chat(guard, call, f"hit{c}", c)) for c in (1, 2, 3)]
    await asyncio.sleep(0.05)  # three chats met a 429 within a second: the overall limit
    other = asyncio.create_task(to_chat(guard, call, "other", 9))
    await asyncio.sleep(0.2)
    assert "other" not in seen
    await asyncio.gather(*hits, other)
    assert "other" in seen
