"""The tap path through a real Bot API: a label is one storage transaction, and a tap that
comes sooner than the project's min_read after its card was shown is not recorded."""

from __future__ import annotations

import asyncio
import contextvars
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.client import JSON, SandboxUser, buttons
from sandbox.server import SandboxServer
from storage.models import SampleIn
from tests.e2e.conftest import World, start_world

_update: contextvars.ContextVar[int | None] = contextvars.ContextVar("update", default=None)


def label_buttons(card: JSON) -> list[str]:
    return [d for _, d in buttons(card) if d.startswith("v1:l:")]


async def next_card(user: SandboxUser, card: JSON) -> JSON:
    """The card after `card`: its message edited into the next sample, or a new message (the
    old one's marker, an edit with other buttons, is passed over)."""
    while True:
        message = await user.next_card(card, timeout=5)
        if label_buttons(message):
            return message


def samples(n: int) -> list[SampleIn]:
    return [SampleIn(ext_id=f"t{i}", text=f"text sample {i}", truth="red") for i in range(n)]


@pytest.fixture(params=["edit", "new"])
async def world(
    request: pytest.FixtureRequest, sandbox: SandboxServer, tmp_path: Path
) -> AsyncIterator[World]:
    async for w in start_world(
        sandbox, tmp_path, samples(6), overlap=1, card_flow=request.param, min_read=0
    ):
        yield w


def record_statements(world: World) -> dict[int | None, list[str]]:
    """Every SQL statement on the bot's connection from now on, by the update it served."""
    seen: dict[int | None, list[str]] = defaultdict(list)
    db: Any = world.repo.db
    app: Any = world.app

    def spy(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(sql: str, *args: Any, **kwargs: Any) -> Any:
            seen[_update.get()].append(" ".join(sql.split()))
            return method(sql, *args, **kwargs)

        return call

    db.execute = spy(db.execute)
    db.execute_fetchall = spy(db.execute_fetchall)
    process: Callable[[object], Awaitable[None]] = app.process_update

    async def in_context(update: Any) -> None:
        token = _update.set(update.update_id)
        try:
            await process(update)
        finally:
            _update.reset(token)

    app.process_update = in_context
    return seen


async def handled(world: World) -> None:
    """Wait until every stored update is marked handled."""
    for _ in range(200):
        row = await world.repo.one("SELECT COUNT(*) FROM inbox WHERE handled_at IS NULL")
        if row == (0,):
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("updates left unhandled")


async def test_a_label_tap_is_one_storage_transaction(world: World) -> None:
    user, card = await world.first_card(1)
    await user.press(card, data=label_buttons(card)[0])  # warm: language, spec, options cached
    card = await next_card(user, card)
    await handled(world)
    seen = record_statements(world)
    await user.press(card, data=label_buttons(card)[1])
    await next_card(user, card)
    await handled(world)
    (tap,) = [s for s in seen.values() if any("SET status = 'done'" in q for q in s)]
    # One transaction: the label, the gold check's read and the next card's claim; after it
    # only the inbox's "handled" mark (the poller's bookkeeping, not the tap's).
    assert tap[0] == "BEGIN IMMEDIATE", tap
    end = tap.index("COMMIT")
    assert tap.count("BEGIN IMMEDIATE") == 1, tap
    inside = tap[1:end]
    assert any(q.startswith("UPDATE assignments SET status = 'done'") for q in inside)
    assert any(q.startswith("INSERT INTO assignments") for q in inside)  # the next card
    after = tap[end + 1 :]
    if (await world.repo.project_spec(world.project.id)).card_flow == "new":
        # The new message's id is only known once Telegram has sent it.
        assert after[0].startswith("UPDATE assignments SET message_id"), after
        after = after[1:]
    assert [q.split(" SET ")[0] for q in after] == ["UPDATE inbox"], after


@pytest.fixture(params=["edit", "new"])
async def slow_world(
    request: pytest.FixtureRequest, sandbox: SandboxServer, tmp_path: Path
) -> AsyncIterator[World]:
    async for w in start_world(
        sandbox, tmp_path, samples(6), overlap=1, card_flow=request.param, min_read=MIN_READ
    ):
        yield w


MIN_READ = 5.0  # long enough that a test's double tap lands within it on any machine


async def read_for_a_while(world: World) -> None:
    """The worker's card has been on screen longer than min_read (without waiting for it)."""
    await world.repo.write(
        "UPDATE assignments SET shown_at = shown_at - ? WHERE status = 'open'", (MIN_READ + 1,)
    )


async def test_a_tap_sooner_than_min_read_is_not_recorded_and_the_card_stays(
    slow_world: World,
) -> None:
    world = slow_world
    user, card = await world.first_card(1)
    await read_for_a_while(world)
    await user.press(card, data=label_buttons(card)[0])
    shown = await next_card(user, card)
    # A double tap: the second lands on the card that has just come.
    cb = await user.press(shown, data=label_buttons(shown)[1])
    answer = await user.answer(cb)
    assert answer["text"].startswith("Too quick")
    assert not await user.messages_after(user.last_seen, 0.2)  # no new card
    assert (await user.message(shown["message_id"]))["text"] == shown["text"]  # it stays
    labels = await world.repo.live_labels(world.project.id)
    assert [lb.option_key for lb in labels] == ["red"]  # only the first tap counted
    # Read, then tap: it counts, and the next card comes.
    await read_for_a_while(world)
    cb = await user.press(shown, data=label_buttons(shown)[1])
    assert (await user.answer(cb))["text"] == "Saved: Green"
    await next_card(user, shown)
    labels = await world.repo.live_labels(world.project.id)
    assert sorted(lb.option_key for lb in labels) == ["green", "red"]


async def test_the_too_quick_notice_is_in_korean_for_korean_workers(
    slow_world: World,
) -> None:
    world = slow_world
    user, card = await world.first_card(1, lang="ko")
    cb = await user.press(card, data=label_buttons(card)[0])
    assert (await user.answer(cb))["text"].startswith("너무 빨리 눌렀어요")
    assert await world.repo.live_labels(world.project.id) == []
