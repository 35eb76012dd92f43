from __future__ import annotations

import asyncio

from telegram import Chat as TgChat
from telegram import Message, Update, User

from bot.poller import PerUserOrder


def update(update_id: int, user_id: int) -> Update:
    user = User(user_id, f"U{user_id}", is_bot=False)
    chat = TgChat(user_id, "private")
    message = Message(update_id, date=None, chat=chat, from_user=user, text="x")  # type: ignore[arg-type]
    return Update(update_id, message=message)


async def test_one_users_updates_run_in_order_and_others_meanwhile() -> None:
    processor = PerUserOrder(8)
    log: list[str] = []
    first_may_end = asyncio.Event()

    async def handle(name: str, wait: asyncio.Event | None = None) -> None:
        log.append(f"{name} start")
        if wait is not None:
            await wait.wait()
        log.append(f"{name} end")

    tasks = [
        asyncio.create_task(processor.process_update(update(1, 7), handle("a1", first_may_end))),
        asyncio.create_task(processor.process_update(update(2, 7), handle("a2"))),
        asyncio.create_task(processor.process_update(update(3, 8), handle("b1"))),
    ]
    await asyncio.sleep(0.05)
    # user 8 went ahead; user 7's second update waits for the first
    assert log == ["a1 start", "b1 start", "b1 end"]
    first_may_end.set()
    await asyncio.gather(*tasks)
    assert log[3:] == ["a1 end", "a2 start", "a2 end"]


async def test_a_users_queue_does_not_take_the_slots_of_others() -> None:
    processor = PerUserOrder(2)
    log: list[str] = []
    slow = asyncio.Event()

    async def handle(name: str, wait: asyncio.Event | None = None) -> None:
        log.append(name)
        if wait is not None:
            await wait.wait()

    tasks = [
        asyncio.create_task(processor.process_update(update(1, 7), handle("a1", slow))),
        asyncio.create_task(processor.process_update(update(2, 7), handle("a2"))),
        asyncio.create_task(processor.process_update(update(3, 7), handle("a3"))),
        asyncio.create_task(processor.process_update(update(4, 8), handle("b1"))),
    ]
    await asyncio.sleep(0.05)
    assert log == ["a1", "b1"]  # user 7's queue waits without holding the second slot
    slow.set()
    await asyncio.gather(*tasks)
    assert log == ["a1", "b1", "a2", "a3"]
