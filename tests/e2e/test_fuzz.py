"""Forged button presses: every one refused, nothing stored, no admin alerted.

300 here (each costs the bot ~4 ms of CPU); bench/bench_faults.py presses 10,000 under kills.
"""

from __future__ import annotations

import random

from sandbox.client import buttons
from sandbox.harness import forged_payload
from tests.e2e.conftest import ADMIN_ID, World


async def test_forged_presses_change_nothing_and_alert_nobody(world: World) -> None:
    admin = world.user(ADMIN_ID)
    await admin.create()
    await admin.send("/help")
    await admin.next_message()
    user, card = await world.first_card(1)
    real = [data for _, data in buttons(card)]
    events = await world.repo.events(limit=1000)
    rows = await world.repo.db.execute_fetchall(
        "SELECT id, status, option_id FROM assignments ORDER BY id"
    )
    rng = random.Random(11)
    payloads: set[str] = set()
    while len(payloads) < 300:
        payload = forged_payload(rng, real)
        if payload not in real and len(payload.encode()) <= 64:
            payloads.add(payload)
    queries = [await user.press(card, data=p, strict=False) for p in sorted(payloads)]
    for query in queries:
        assert (await user.answer(query))["answered"]
    assert await world.repo.events(limit=1000) == events
    assert (
        await world.repo.db.execute_fetchall(
            "SELECT id, status, option_id FROM assignments ORDER BY id"
        )
        == rows
    )
    assert await admin.messages_after(admin.last_seen, 0.5) == []
