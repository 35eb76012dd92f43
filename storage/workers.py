"""Workers: the Telegram users the bot knows, their language, the project they label in, and
whether they were told that nothing is left for them (idle) in a project."""

from __future__ import annotations

import sqlite3
import time

from storage.db import Database, Row
from storage.events import append_event
from storage.models import Worker

WORKER_COLS = "id, first_name, username, language, language_chosen, current_project_id"

# Workers told "all done" for whom a sample is available again (new data, expired cards).
IDLE_WITH_WORK_SQL = """
SELECT m.worker_id, m.project_id FROM memberships AS m
WHERE m.idle_since IS NOT NULL
  AND EXISTS (SELECT 1 FROM samples AS s
              WHERE s.project_id = m.project_id AND s.need > 0 AND s.held IS NULL
                AND NOT EXISTS (SELECT 1 FROM assignments AS a
                                WHERE a.sample_id = s.id AND a.worker_id = m.worker_id))
  AND NOT EXISTS (SELECT 1 FROM project_life AS p WHERE p.project_id = m.project_id)
"""


def worker_of(row: sqlite3.Row | Row) -> Worker:
    """A `WORKER_COLS` row as a model."""
    return Worker(
        id=row[0],
        first_name=row[1],
        username=row[2],
        language=row[3],
        language_chosen=bool(row[4]),
        current_project_id=row[5],
    )


class Workers(Database):
    """Workers' profiles and their idle flag per project."""

    async def upsert_worker(
        self, user_id: int, first_name: str, username: str | None, language_code: str | None
    ) -> Worker:
        """Create or refresh a worker from their Telegram profile.

        Telegram's language code sets the UI language until the worker picks one with /lang.
        """
        lang = "ko" if (language_code or "").lower().startswith("ko") else "en"
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO workers (id, first_name, username, language, created_at)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name,"
                " username = excluded.username,"
                " language = CASE WHEN language_chosen THEN language ELSE excluded.language END",
                (user_id, first_name, username, lang, time.time()),
            )
            async with db.execute(
                f"SELECT {WORKER_COLS} FROM workers WHERE id = ?", (user_id,)
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return worker_of(tuple(row))

    async def get_worker(self, user_id: int) -> Worker | None:
        """A worker by Telegram id, or None."""
        row = await self.one(f"SELECT {WORKER_COLS} FROM workers WHERE id = ?", (user_id,))
        return worker_of(row) if row else None

    async def set_language(self, user_id: int, lang: str) -> None:
        """Pin the worker's UI language."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE workers SET language = ?, language_chosen = 1"
                " WHERE id = ? AND (language != ? OR language_chosen = 0)",
                (lang, user_id, lang),
            )
            if cur.rowcount:  # a repeated tap (or a replay) changes and logs nothing
                await append_event(db, "worker.language", user_id, None, {"language": lang}, None)

    async def set_current_project(self, user_id: int, project_id: int) -> None:
        """Make `project_id` the project the worker labels in."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE workers SET current_project_id = ? WHERE id = ?", (project_id, user_id)
            )

    # ---------------------------------------------------------------- idle

    async def is_idle(self, user_id: int, project_id: int) -> bool:
        """Whether the worker was told there is nothing left for them in the project."""
        row = await self.one(
            "SELECT idle_since FROM memberships WHERE worker_id = ? AND project_id = ?",
            (user_id, project_id),
        )
        return row is not None and row[0] is not None

    async def mark_idle(self, user_id: int, project_id: int, now: float | None = None) -> None:
        """Remember that the worker was told there is nothing left for them."""
        async with self.locked() as db:
            await db.execute(
                "UPDATE memberships SET idle_since = ? WHERE worker_id = ? AND project_id = ?",
                (time.time() if now is None else now, user_id, project_id),
            )

    async def take_idle_with_work(self) -> list[tuple[int, int]]:
        """Idle (worker, project) pairs that have work again; they are no longer idle after."""
        async with self.locked() as db:
            rows = await db.execute_fetchall(IDLE_WITH_WORK_SQL)
            pairs = [(int(r[0]), int(r[1])) for r in rows]
            await db.executemany(
                "UPDATE memberships SET idle_since = NULL WHERE worker_id = ? AND project_id = ?",
                pairs,
            )
        return pairs
