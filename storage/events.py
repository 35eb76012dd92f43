"""The audit log: an append-only table of what happened (the triggers refuse edits).

Writes go in the transaction of what they record (`append_event`), so the log never claims
something that was rolled back, nor misses something that landed.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiosqlite

from storage.db import Database


async def append_event(
    db: aiosqlite.Connection,
    kind: str,
    actor: int | None,
    project_id: int | None,
    data: dict[str, Any] | None,
    now: float | None,
) -> None:
    """Append one event inside the caller's transaction."""
    await db.execute(
        "INSERT INTO events (at, actor, project_id, kind, data) VALUES (?, ?, ?, ?, ?)",
        (
            time.time() if now is None else now,
            actor,
            project_id,
            kind,
            json.dumps(data or {}, ensure_ascii=False),
        ),
    )


class Events(Database):
    """Writing and reading the audit log on its own."""

    async def log_event(
        self,
        kind: str,
        *,
        actor: int | None = None,
        project_id: int | None = None,
        data: dict[str, Any] | None = None,
        now: float | None = None,
    ) -> None:
        """Append one event to the audit log (its own transaction)."""
        async with self.transaction() as db:
            await append_event(db, kind, actor, project_id, data, now)

    async def events(
        self, project_id: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The newest audit events, newest first."""
        sql = "SELECT id, at, actor, project_id, kind, data FROM events"
        params: list[Any] = []
        if project_id is not None:
            sql += " WHERE project_id = ?"
            params.append(project_id)
        rows = await self.all(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
        return [
            {
                "id": r[0],
                "at": r[1],
                "actor": r[2],
                "project_id": r[3],
                "kind": r[4],
                "data": json.loads(r[5]),
            }
            for r in rows
        ]
