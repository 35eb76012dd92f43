"""A thousand forged button presses: every one refused, nothing stored, no admin alerted."""

from __future__ import annotations

import random

from bot.sandbox.client import buttons
from tests.e2e.conftest import ADMIN_ID, World


def forged(rng: random.Random, real: list[str]) -> str:
    """A payload a tampering client might send: mutated real data, other kinds, junk."""
    base = rng.choice(real)
    kind = rng.randrange(6)
    if kind == 0:  # another assignment or option
        head, _, tail = base.rpartition(":")
        return (
            f"{head}:{rng.choice([-1, 3, 9, 10**6, 2**63])}"
            if rng.random() < 0.5
            else (f"v1:l:{rng.randrange(-5, 10**9)}:{tail}")
        )
    if kind == 1:  # a lone surrogate or other non-ASCII
        # (lone surrogates: tests/e2e/test_forged_presses.py posts them as raw JSON)
        return base + rng.choice(["é", "한", "\x00", "\u202e", "\ufeff"])
    if kind == 2:  # other kinds with plausible fields
        return (
            f"v1:{rng.choice(['v', 's', 'r', 'rr', 'rb', 'go', 'g', 'lang', 'n', 'x'])}:"
            + ":".join(str(rng.randrange(-3, 10**6)) for _ in range(rng.randrange(0, 4)))
        )
    if kind == 3:  # wrong version or separators
        return base.replace("v1", rng.choice(["v0", "v2", "V1", ""]), 1)
    if kind == 4:  # random bytes as text, up to 64 and beyond
        return "".join(chr(rng.randrange(32, 0xD000)) for _ in range(rng.randrange(0, 80)))
    return base[: rng.randrange(len(base) + 1)]  # truncated


async def test_a_thousand_forged_presses_change_nothing_and_alert_nobody(world: World) -> None:
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
    while len(payloads) < 1000:
        payload = forged(rng, real)
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
