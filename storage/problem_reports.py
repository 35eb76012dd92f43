"""Problem reports as an inbox: notes, holds, a coordinator's decision (fix, exclude,
dismiss), the reporters told; and project life (paused, closed, archived, deleted).

A report is filed with the worker's skip-or-report tap (`storage.assignments.file_report`,
which also holds the sample once `report_hold` workers reported it). Everything here is one
transaction per call; a decision made by an update remembers it (`storage.effects`), so the
same update handled again decides nothing twice and gets the first answer back.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from storage.db import Database, fetch_all, fetch_one
from storage.effects import once, remember
from storage.errors import Conflict, NotFound
from storage.events import append_event
from storage.models import Sample
from storage.samples import SAMPLE_COLS, sample_of

# A question the bot asked ("send your note", "send the corrected text") is answered by the
# user's next text message within this many seconds; later text is not taken for an answer.
REPLY_TTL_S = 15 * 60
DECISIONS = ("fixed", "excluded", "dismissed")
STATES = ("active", "paused", "closed", "archived")


@dataclass(frozen=True)
class PendingReply:
    """What the user's next text message answers."""

    kind: str  # note | fix | guide
    ref: int  # the report (note), the sample (fix), the project (guide)
    mode: str | None  # fix: keep | clear (the labels so far); guide: the language
    at: float


@dataclass(frozen=True)
class ReportLine:
    """One worker's report on a sample."""

    report_id: int
    worker_id: int
    name: str  # first name, else @username, else ""
    reason: str
    note: str | None
    at: float


@dataclass(frozen=True)
class ReportedSample:
    """A sample with open reports, as a /reports card shows it."""

    sample: Sample
    held: str | None  # 'held' (out of the pool) or None
    lines: list[ReportLine] = field(default_factory=list)

    @property
    def reporters(self) -> list[int]:
        """The workers who reported it, each once, in the order they did."""
        return list(dict.fromkeys(line.worker_id for line in self.lines))


@dataclass(frozen=True)
class Decision:
    """What a coordinator's decision on a reported sample did."""

    project_id: int
    sample_id: int
    decision: str  # fixed | excluded | dismissed
    reporters: list[int]  # to be told the outcome
    cleared: int = 0  # labels taken back (a fix that cleared them)
    replay: bool = False  # this update decided it before (handled again)


@dataclass(frozen=True)
class StateChange:
    """A project's life moved on (or was already there)."""

    project_id: int
    before: str
    after: str
    released: int = 0  # open cards taken back
    # (worker, message) of each card taken back that was on screen: its buttons are dead now
    cards: list[tuple[int, int]] = field(default_factory=list)
    replay: bool = False


_REPORT_LINES_SQL = """
SELECT r.id, r.sample_id, r.worker_id, r.reason, r.note, r.created_at,
       COALESCE(NULLIF(w.first_name, ''), '@' || w.username, '')
FROM reports AS r LEFT JOIN workers AS w ON w.id = r.worker_id
WHERE r.decided_at IS NULL AND r.sample_id IN ({ids})
ORDER BY r.id
"""


def _reason_summary(reasons: list[str]) -> str:
    """'broken (2), unclear (1)': each reason once, with how many gave it."""
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    return ", ".join(f"{r} ({n})" for r, n in counts.items())


class ProblemReports(Database):
    """The report inbox, the replies the bot waits for, and a project's life."""

    # ---------------------------------------------------------------- replies awaited

    async def await_reply(
        self, user_id: int, kind: str, ref: int, mode: str | None = None, now: float | None = None
    ) -> None:
        """The user's next text message answers this (replacing any earlier question)."""
        await self.write(
            "INSERT OR REPLACE INTO pending_replies (user_id, kind, ref, mode, at)"
            " VALUES (?, ?, ?, ?, ?)",
            (user_id, kind, ref, mode, time.time() if now is None else now),
        )

    async def await_note(self, user_id: int, assignment_id: int) -> None:
        """The worker's next text message becomes the note of the report they just made on
        this card (nothing if there is none: a replay, a card closed otherwise)."""
        await self.write(
            "INSERT OR REPLACE INTO pending_replies (user_id, kind, ref, mode, at)"
            " SELECT worker_id, 'note', id, NULL, ? FROM reports"
            " WHERE assignment_id = ? AND worker_id = ?",
            (time.time(), assignment_id, user_id),
        )

    async def pending_reply(self, user_id: int, now: float | None = None) -> PendingReply | None:
        """What the user's next text message answers, if the question is still fresh."""
        row = await self.one(
            "SELECT kind, ref, mode, at FROM pending_replies WHERE user_id = ? AND at > ?",
            (user_id, (time.time() if now is None else now) - REPLY_TTL_S),
        )
        if row is None:
            return None
        return PendingReply(str(row[0]), int(row[1]), row[2], float(row[3]))

    async def drop_reply(self, user_id: int) -> None:
        """Forget the question the user was asked."""
        await self.write("DELETE FROM pending_replies WHERE user_id = ?", (user_id,))

    async def awaiting_users(self, now: float | None = None) -> dict[int, float]:
        """Users whose next text message answers a question (fresh ones): when asked."""
        rows = await self.all(
            "SELECT user_id, at FROM pending_replies WHERE at > ?",
            ((time.time() if now is None else now) - REPLY_TTL_S,),
        )
        return {int(r[0]): float(r[1]) for r in rows}

    async def save_note(
        self,
        user_id: int,
        report_id: int,
        note: str,
        *,
        update_id: int | None = None,
        now: float | None = None,
    ) -> bool:
        """Attach the worker's note to their report (and stop waiting for one); False when
        the report is not theirs or is gone. The same update again changes nothing."""
        now = time.time() if now is None else now
        async with self.transaction() as db:
            if (done := await once(db, update_id, "report.note")) is not None:
                return bool(done)
            cur = await db.execute(
                "UPDATE reports SET note = ? WHERE id = ? AND worker_id = ?",
                (note, report_id, user_id),
            )
            ok = cur.rowcount > 0
            await db.execute(
                "DELETE FROM pending_replies WHERE user_id = ? AND kind = 'note'", (user_id,)
            )
            if ok:
                row = await fetch_one(
                    db, "SELECT project_id, sample_id FROM reports WHERE id = ?", (report_id,)
                )
                assert row is not None
                data = {"report": report_id, "sample": int(row[1]), "note": note}
                await append_event(db, "report.note", user_id, int(row[0]), data, now)
            await remember(db, update_id, "report.note", ok, now)
        return ok

    # ---------------------------------------------------------------- the inbox

    async def open_report_count(self, project_id: int) -> tuple[int, int]:
        """(samples with open reports, open reports) in the project."""
        row = await self.one(
            "SELECT COUNT(DISTINCT sample_id), COUNT(*) FROM reports"
            " WHERE project_id = ? AND decided_at IS NULL",
            (project_id,),
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def open_reports(self, project_id: int, limit: int = 10) -> list[ReportedSample]:
        """Samples with open reports, the longest waiting first, with their reports."""
        rows = await self.all(
            f"SELECT {', '.join('s.' + c.strip() for c in SAMPLE_COLS.split(','))}, s.held"
            " FROM samples AS s WHERE s.id IN"
            " (SELECT sample_id FROM reports WHERE project_id = ? AND decided_at IS NULL"
            "  GROUP BY sample_id ORDER BY MIN(id) LIMIT ?)",
            (project_id, limit),
        )
        return await self._with_lines(rows)

    async def reported_sample(self, sample_id: int) -> ReportedSample | None:
        """One sample with its open reports; None when it has none (decided, or never)."""
        rows = await self.all(
            f"SELECT {', '.join('s.' + c.strip() for c in SAMPLE_COLS.split(','))}, s.held"
            " FROM samples AS s WHERE s.id = ?",
            (sample_id,),
        )
        found = await self._with_lines(rows)
        return found[0] if found else None

    async def _with_lines(self, rows: list[Any]) -> list[ReportedSample]:
        if not rows:
            return []
        ids = [int(r[0]) for r in rows]
        lines: dict[int, list[ReportLine]] = {i: [] for i in ids}
        sql = _REPORT_LINES_SQL.format(ids=", ".join("?" * len(ids)))
        for r in await self.all(sql, ids):
            lines[int(r[1])].append(
                ReportLine(int(r[0]), int(r[2]), str(r[6] or ""), str(r[3]), r[4], float(r[5]))
            )
        found = [ReportedSample(sample_of(r), r[11], lines[int(r[0])]) for r in rows]
        found = [f for f in found if f.lines]
        found.sort(key=lambda f: f.lines[0].report_id)
        return found

    async def unannounced(self) -> dict[int, int]:
        """New reports per project not yet in a coordinators' notice (`announce` them)."""
        rows = await self.all(
            "SELECT project_id, COUNT(*) FROM reports"
            " WHERE announced = 0 AND decided_at IS NULL GROUP BY project_id"
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def announce(self, project_id: int, chat_ids: list[int], now: float) -> int:
        """Queue the notice of the project's new reports to each of `chat_ids` (outbox kind
        'reports_new', payload: project and count; bot.outbox sends it) and count them as
        announced, in one transaction: a crash before it leaves them to the next round, one
        after it leaves the notice to the outbox, which survives it. The reports announced."""
        async with self.transaction() as db:
            row = await fetch_one(
                db,
                "SELECT COUNT(*) FROM reports"
                " WHERE project_id = ? AND announced = 0 AND decided_at IS NULL",
                (project_id,),
            )
            count = int(row[0]) if row else 0
            await db.execute(
                "UPDATE reports SET announced = 1 WHERE project_id = ? AND announced = 0",
                (project_id,),
            )
            if count:
                payload = json.dumps({"project": project_id, "n": count}, sort_keys=True)
                await db.executemany(
                    "INSERT INTO outbox (chat_id, kind, payload, next_at, created_at)"
                    " VALUES (?, 'reports_new', ?, ?, ?)",
                    [(chat_id, payload, now, now) for chat_id in dict.fromkeys(chat_ids)],
                )
        return count

    # ---------------------------------------------------------------- decisions

    async def decide_reports(
        self,
        sample_id: int,
        decision: str,
        *,
        actor: int | None = None,
        update_id: int | None = None,
        new_text: str | None = None,
        clear_labels: bool = False,
        now: float | None = None,
    ) -> Decision | None:
        """Decide a reported sample: 'fixed' (its text becomes `new_text`; its labels so far
        kept, or taken back with `clear_labels`), 'excluded' (out of the pool and the data,
        with the reports' reasons) or 'dismissed' (back in the pool). Its open reports close.
        None when it has no open report (decided already by someone else). Audited."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}")
        if decision == "fixed" and not (new_text and new_text.strip()):
            raise ValueError("a fix needs the corrected text")
        now = time.time() if now is None else now
        step = f"report.{decision}"
        async with self.transaction() as db:
            if (done := await once(db, update_id, step)) is not None:
                return None if done is False else Decision(**done, replay=True)
            row = await fetch_one(
                db, "SELECT project_id, text, gold FROM samples WHERE id = ?", (sample_id,)
            )
            reports = await fetch_all(
                db,
                "SELECT id, worker_id, reason FROM reports"
                " WHERE sample_id = ? AND decided_at IS NULL ORDER BY id",
                (sample_id,),
            )
            if row is None or not reports:
                await remember(db, update_id, step, False, now)
                return None
            project_id = int(row[0])
            reporters = list(dict.fromkeys(int(r[1]) for r in reports))
            data: dict[str, Any] = {"sample": sample_id, "reports": [int(r[0]) for r in reports]}
            cleared = 0
            if decision == "excluded":
                reason = _reason_summary([str(r[2]) for r in reports])
                await db.execute(
                    "UPDATE samples SET held = 'excluded', excluded_reason = ? WHERE id = ?",
                    (reason, sample_id),
                )
                # Cards of it still on screen go back (the sample is out: nobody gets it).
                await db.execute(
                    "UPDATE assignments SET status = 'released', closed_at = ?"
                    " WHERE sample_id = ? AND status = 'open'",
                    (now, sample_id),
                )
                data["reason"] = reason
            elif decision == "dismissed":
                await db.execute("UPDATE samples SET held = NULL WHERE id = ?", (sample_id,))
            else:
                assert new_text is not None
                if clear_labels:
                    cleared = await _clear_labels(db, sample_id, now)
                await db.execute(
                    "UPDATE samples SET text = ?, held = NULL WHERE id = ?",
                    (new_text.strip(), sample_id),
                )
                data |= {"old_text": row[1], "new_text": new_text.strip(), "cleared": cleared}
            await db.execute(
                "UPDATE reports SET decision = ?, decided_at = ?, decided_by = ?"
                " WHERE sample_id = ? AND decided_at IS NULL",
                (decision, now, actor, sample_id),
            )
            kind = {"fixed": "sample.fixed", "excluded": "sample.excluded"}.get(
                decision, "reports.dismissed"
            )
            await append_event(db, kind, actor, project_id, data, now)
            result = {
                "project_id": project_id,
                "sample_id": sample_id,
                "decision": decision,
                "reporters": reporters,
                "cleared": cleared,
            }
            await remember(db, update_id, step, result, now)
        return Decision(**result)  # type: ignore[arg-type]

    async def excluded_count(self, project_id: int) -> int:
        """Samples taken out of the project's data after reports."""
        row = await self.one(
            "SELECT COUNT(*) FROM samples WHERE project_id = ? AND held = 'excluded'",
            (project_id,),
        )
        return int(row[0]) if row else 0

    async def excluded_reason(self, sample_id: int) -> str | None:
        """Why a sample was excluded (its reports' reasons), if it was."""
        row = await self.one(
            "SELECT excluded_reason FROM samples WHERE id = ? AND held = 'excluded'", (sample_id,)
        )
        return None if row is None else row[0]

    # ---------------------------------------------------------------- project life

    async def project_state(self, project_id: int) -> str:
        """'active', 'paused', 'closed' or 'archived'."""
        row = await self.one("SELECT state FROM project_life WHERE project_id = ?", (project_id,))
        return "active" if row is None else str(row[0])

    async def project_states(self) -> dict[int, str]:
        """Every project that is not active: its state."""
        rows = await self.all("SELECT project_id, state FROM project_life")
        return {int(r[0]): str(r[1]) for r in rows}

    async def set_project_state(
        self,
        project_id: int,
        state: str,
        *,
        actor: int | None = None,
        update_id: int | None = None,
        now: float | None = None,
    ) -> StateChange:
        """Pause, close, archive or resume ('active') a project. Leaving 'active' takes back
        the cards on screen (their buttons are refused; no new ones go out). Audited; the
        same update again changes nothing and gets the first answer back."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}")
        now = time.time() if now is None else now
        step = f"project.{state}"
        async with self.transaction() as db:
            if (done := await once(db, update_id, step)) is not None:
                shown = [(int(w), int(m)) for w, m in done.pop("cards", [])]
                return StateChange(**done, cards=shown, replay=True)
            if await fetch_one(db, "SELECT 1 FROM projects WHERE id = ?", (project_id,)) is None:
                raise NotFound(f"no project {project_id}")
            row = await fetch_one(
                db, "SELECT state FROM project_life WHERE project_id = ?", (project_id,)
            )
            before = "active" if row is None else str(row[0])
            cards: list[tuple[int, int]] = []
            released = 0
            if before != state:
                if state == "active":
                    await db.execute(
                        "DELETE FROM project_life WHERE project_id = ?", (project_id,)
                    )
                else:
                    await db.execute(
                        "INSERT OR REPLACE INTO project_life (project_id, state, since, actor)"
                        " VALUES (?, ?, ?, ?)",
                        (project_id, state, now, actor),
                    )
                    taken = await fetch_all(
                        db,
                        "UPDATE assignments SET status = 'released', closed_at = ?"
                        " WHERE project_id = ? AND status = 'open'"
                        " RETURNING worker_id, message_id",
                        (now, project_id),
                    )
                    cards = [(int(r[0]), int(r[1])) for r in taken if r[1] is not None]
                    released = len(taken)
                kind = "project.resumed" if state == "active" else f"project.{state}"
                data = {"from": before, "released": released}
                await append_event(db, kind, actor, project_id, data, now)
            result = {
                "project_id": project_id,
                "before": before,
                "after": state,
                "released": released,
                "cards": [list(c) for c in cards],
            }
            await remember(db, update_id, step, result, now)
        return StateChange(project_id, before, state, released, cards)

    async def delete_project_data(self, project_id: int, *, actor: int | None = None) -> int:
        """Delete a project and everything it holds (samples, labels, cards, reports,
        members, invites); the audit log keeps its events and one more saying so. The
        number of labels deleted."""
        now = time.time()
        async with self.transaction() as db:
            row = await fetch_one(
                db, "SELECT slug, name FROM projects WHERE id = ?", (project_id,)
            )
            if row is None:
                raise NotFound(f"no project {project_id}")
            counted = await fetch_one(
                db,
                "SELECT (SELECT COUNT(*) FROM samples WHERE project_id = :p),"
                " (SELECT COUNT(*) FROM labels WHERE project_id = :p)",
                {"p": project_id},
            )
            assert counted is not None
            await db.execute(
                "UPDATE workers SET current_project_id = NULL WHERE current_project_id = ?",
                (project_id,),
            )
            try:
                await _delete_rows(db, project_id)
            except aiosqlite.IntegrityError as exc:
                raise Conflict(
                    f"project {row[0]} is still referenced ({exc}); nothing was deleted"
                ) from exc
            data = {
                "slug": row[0],
                "name": row[1],
                "samples": int(counted[0]),
                "labels": int(counted[1]),
            }
            await append_event(db, "project.deleted", actor, project_id, data, now)
        return int(counted[1])


async def _delete_rows(db: aiosqlite.Connection, project_id: int) -> None:
    """The project's rows, children first (the big ones by their project index, not
    by a cascade per row)."""
    for table in ("labels", "reports", "reviews", "assignments"):
        await db.execute(f"DELETE FROM {table} WHERE project_id = ?", (project_id,))
    await db.execute("DELETE FROM projects WHERE id = ?", (project_id,))


async def _clear_labels(db: aiosqlite.Connection, sample_id: int, now: float) -> int:
    """Take back a sample's live labels (its text changed: they answered another text); it
    wants labels again and waits for a new answer. How many."""
    cur = await db.execute(
        "UPDATE labels SET retracted_at = ? WHERE sample_id = ? AND retracted_at IS NULL",
        (now, sample_id),
    )
    cleared = int(cur.rowcount)
    if cleared:
        # As when a forgotten worker's labels go (storage.erasure): it wants them again, and
        # a decided answer is undecided (a gold sample keeps its known answer).
        await db.execute(
            "UPDATE samples SET n_labels = n_labels - :n, need = need + :n,"
            " status = CASE WHEN gold = 0 THEN 'open' ELSE status END,"
            " consensus = CASE WHEN gold = 0 THEN NULL ELSE consensus END,"
            " confidence = CASE WHEN gold = 0 THEN NULL ELSE confidence END"
            " WHERE id = :s",
            {"n": cleared, "s": sample_id},
        )
    return cleared
