"""What an update did, written in the transaction of its effect: replays do nothing twice.

An update that is not idempotent by itself (/undo takes back "the last" label; an invite link
counts a use) names its step; a replay of the same update_id finds the stored result and
returns it instead of acting again, also after a crash, since both land in one transaction.
"""

from __future__ import annotations

import json
from typing import Any

import aiosqlite


async def once(db: aiosqlite.Connection, update_id: int | None, step: str) -> Any | None:
    """What `step` of this update already did (its stored result), or None if it never ran."""
    if update_id is None:
        return None
    async with db.execute(
        "SELECT result FROM update_effects WHERE update_id = ? AND step = ?", (update_id, step)
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else json.loads(row[0])


async def remember(
    db: aiosqlite.Connection, update_id: int | None, step: str, result: Any, now: float
) -> None:
    """Record what `step` of this update did; call it in the transaction of the effect."""
    if update_id is None:
        return
    await db.execute(
        "INSERT INTO update_effects (update_id, step, result, at) VALUES (?, ?, ?, ?)",
        (update_id, step, json.dumps(result), now),
    )
