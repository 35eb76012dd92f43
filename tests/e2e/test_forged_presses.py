"""Forged presses on marker buttons and undecodable payloads: refused, no alert, no change."""

from __future__ import annotations

import json

from sandbox.client import JSON, SandboxUser, buttons
from tests.e2e.conftest import ADMIN_ID, World


async def press_raw(world: World, user: SandboxUser, card: JSON, data: str) -> str:
    """Press with any data at all: JSON with \\u escapes carries lone surrogates, which
    SandboxUser.press (httpx encodes JSON as UTF-8 text) cannot send."""
    body = {"message_id": card["message_id"], "data": data, "strict": False}
    response = await world.http.post(
        f"{world.sandbox.url}/sandbox/users/{user.user_id}/callback",
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    return str(response.json()["result"]["callback_query_id"])


async def test_forged_marker_and_surrogate_presses_are_refused_without_alerts(
    world: World,
) -> None:
    admin = world.user(ADMIN_ID)
    await admin.create()
    await admin.send("/help")  # an admin who has talked to the bot can be alerted
    await admin.next_message()
    user, card = await world.first_card(1)
    label = next(d for _, d in buttons(card) if d.startswith("v1:l:"))
    forged = ("v1:n:evil", "v1:n:", f"{label}\ud800", "v1:n\ud800", "\udcff")
    for data in forged:
        answer = await user.answer(await press_raw(world, user, card, data))
        assert answer["answered"], data
        assert "not valid" in (answer["text"] or ""), data
    # The bot's own marker button is still answered, silently.
    answer = await user.answer(await user.press(card, data="v1:n", strict=False))
    assert answer["answered"]
    assert not answer.get("text")
    assert await world.repo.live_labels(world.project.id) == []
    assert await admin.messages_after(admin.last_seen) == []  # no "Labelgram error" alert
    # The card still works: the forged presses changed nothing.
    await user.press(card, data=label)
    assert await user.next_message()
    assert len(await world.repo.live_labels(world.project.id)) == 1
