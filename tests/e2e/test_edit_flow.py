"""The edit flow (card_flow = "edit", the default): the next card takes the answered card's
message, so a label costs two Bot API calls; what cannot be edited is sent anew."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Update

from sandbox.client import JSON, SandboxUser, buttons
from sandbox.server import SandboxServer
from storage.models import SampleIn
from tests.e2e.conftest import World, start_world


def label_buttons(card: JSON) -> list[tuple[str, str]]:
    return [b for b in buttons(card) if b[1].startswith("v1:l:")]


def content(message: JSON) -> object:
    return (message.get("text"), message.get("caption"), message.get("photo"))


async def changed(user: SandboxUser, card: JSON, wait_s: float = 5.0) -> JSON:
    """The card's message once its content differs from `card`."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        current = await user.message(card["message_id"])
        if content(current) != content(card) or buttons(current) != buttons(card):
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"message {card['message_id']} was not edited")
        await asyncio.sleep(0.01)


async def no_new_message(user: SandboxUser, wait_s: float = 0.3) -> bool:
    return not await user.messages_after(user.last_seen, wait_s)


@pytest.fixture
async def world(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[World]:
    samples = [SampleIn(ext_id=f"t{i}", text=f"text sample {i}", truth="red") for i in range(4)]
    async for w in start_world(sandbox, tmp_path, samples, overlap=2, card_flow="edit"):
        yield w


async def test_a_tap_turns_the_card_into_the_next_sample_with_two_calls(
    world: World,
) -> None:
    user, card = await world.first_card(1)
    before = dict(world.sandbox.calls)
    cb = await user.press(card, data=label_buttons(card)[0][1])
    nxt = await changed(user, card)
    assert (await user.answer(cb))["text"] == "Saved: Red"
    assert nxt["message_id"] == card["message_id"]
    assert nxt["text"].startswith("text sample")
    assert nxt["text"] != card["text"]
    assert [b[0] for b in label_buttons(nxt)] == ["Red", "Green", "Blue"]
    assert await no_new_message(user)
    await asyncio.sleep(0.1)  # nothing else goes out in the background either
    calls = {m: n - before.get(m, 0) for m, n in world.sandbox.calls.items()}
    assert {m: n for m, n in calls.items() if n and m != "getUpdates"} == {
        "answerCallbackQuery": 1,
        "editMessageText": 1,
    }
    labels = await world.repo.live_labels(world.project.id)
    assert [(lb.worker_id, lb.option_key) for lb in labels] == [(1, "red")]


async def test_skip_shows_the_next_sample_in_place(world: World) -> None:
    user, card = await world.first_card(1)
    skip = next(d for label, d in buttons(card) if d.startswith("v1:s:"))
    cb = await user.press(card, data=skip)
    nxt = await changed(user, card)
    assert (await user.answer(cb))["answered"]
    assert nxt["text"] != card["text"]
    assert label_buttons(nxt)
    assert await no_new_message(user)


async def test_a_double_tap_on_the_old_buttons_labels_once_and_edits_once(world: World) -> None:
    user, card = await world.first_card(1)
    first = await user.press(card, data=label_buttons(card)[1][1])
    nxt = await changed(user, card)
    second = await user.press(card, data=label_buttons(card)[2][1], strict=False)
    answers = [await user.answer(first), await user.answer(second)]
    assert [a["text"] for a in answers] == ["Saved: Green", "Already saved: Green"]
    await asyncio.sleep(0.2)
    assert content(await user.message(card["message_id"])) == content(nxt)
    assert [lb.option_key for lb in await world.repo.live_labels(world.project.id)] == ["green"]


async def test_a_replayed_tap_stores_one_label_and_shows_no_second_card(world: World) -> None:
    user, card = await world.first_card(1)
    red = label_buttons(card)[0]
    await user.press(card, data=red[1])
    nxt = await changed(user, card)
    update = Update.de_json(
        {
            "update_id": 20_000,
            "callback_query": {
                "id": "replayed-edit-1",
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
    await asyncio.sleep(0.2)
    assert content(await user.message(card["message_id"])) == content(nxt)
    assert await no_new_message(user)
    assert len(await world.repo.live_labels(world.project.id)) == 1
    open_cards = await world.repo.all(
        "SELECT COUNT(*) FROM assignments WHERE worker_id = 1 AND status = 'open'"
    )
    assert open_cards == [(1,)]


async def test_a_card_claimed_but_never_edited_in_is_shown_when_the_old_one_is_tapped(
    world: World,
) -> None:
    """A crash between claiming the next card (into the answered card's message) and the
    edit leaves the old sample on screen: a tap on it shows the open card there."""
    user, card = await world.first_card(1)
    first = int(label_buttons(card)[0][1].split(":")[2])
    assert (await world.repo.record_label(first, 1, 0)).status.value == "recorded"
    claimed = await world.repo.next_card(1, world.project.id)
    assert claimed is not None
    await world.repo.card_sent(claimed.assignment_id, card["message_id"])
    cb = await user.press(card, data=label_buttons(card)[0][1])
    nxt = await changed(user, card)
    assert (await user.answer(cb))["text"] == "Already saved: Red"
    assert f":{claimed.assignment_id}:" in label_buttons(nxt)[0][1]
    assert await no_new_message(user)


async def test_undo_brings_the_previous_sample_back_into_the_same_message(world: World) -> None:
    user, card = await world.first_card(1)
    await user.press(card, data=label_buttons(card)[0][1])
    nxt = await changed(user, card)
    await user.send("/undo")
    assert "taken back" in (await user.next_message())["text"].lower()
    back = await changed(user, nxt)
    assert back["message_id"] == card["message_id"]
    assert back["text"] == card["text"]
    assert label_buttons(back)
    assert label_buttons(back) != label_buttons(nxt)
    assert await world.repo.live_labels(world.project.id) == []


async def test_the_last_card_becomes_a_marker_and_all_done_comes_below(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    samples = [SampleIn(ext_id="only", text="the only sample", truth="red")]
    async for world in start_world(sandbox, tmp_path, samples, overlap=1, card_flow="edit"):
        user, card = await world.first_card(1)
        await user.press(card, data=label_buttons(card)[2][1])
        done = await user.next_message()
        assert "All done" in done["text"]
        marked = await changed(user, card)
        assert buttons(marked) == [("✓ Blue", "v1:n")]
