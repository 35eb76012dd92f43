"""Daily digests: the figures a digest shows, what each digest covered, who got it, and
workers' opt-outs (/digest off).

The figures are read on a read-only sqlite3 connection of their own (`read_figures`, blocking:
call it from a thread or a child process), never on the bot's connection: on a project with a
million labels they are a second of SQLite work that taps must not queue behind. Each figure is
one aggregate query over an index (labels by project and time, gold samples, quality runs by
project), so none of them brings a million rows into Python.

Sending is de-duplicated here: one `digest_runs` row per project and local day (the window of
news it covered), one `digest_sends` row per recipient and day, claimed just before the message
goes out. A restart or a job that runs twice finds the claim and sends nothing; a message whose
send failed for sure ("failed") is tried again; one in flight when the process died stays
"sending" and is not repeated (sendMessage has no idempotency key: at most once).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from storage.db import Database
from storage.models import SampleCounts
from storage.samples import SAMPLE_STATES, sample_counts_of

CONFUSED_PAIRS = 3  # most-confused option pairs a digest names
MAX_SEND_ATTEMPTS = 5  # a recipient's digest is tried this often in a day, then given up


@dataclass(frozen=True)
class WorkerDay:
    """One worker's figures for the digest's period."""

    user_id: int
    name: str  # first name ('' if none)
    username: str | None
    labels: int
    gold_answered: int
    gold_right: int
    compared: int  # labels on samples that have a consensus
    agreed: int  # ... that match it
    language: str = "en"


@dataclass(frozen=True)
class Named:
    """A worker named in the news: name and id (and what happened, as a code)."""

    user_id: int
    name: str
    username: str | None
    what: str = ""  # the rule of a suspension, '' otherwise


@dataclass(frozen=True)
class Pair:
    """Two options confused: labels of one on samples whose consensus is the other (both
    ways), with one such sample."""

    a: int  # option idx
    b: int
    count: int
    example: str  # the sample's text (shortened), or its id for media


@dataclass
class DigestFigures:
    """Everything a coordinators' digest shows, read at once."""

    project_id: int
    options: list[dict[str, str]]  # display texts per option idx
    labels_per_day: list[int]  # one per day bound
    gold_per_day: list[tuple[int, int]]  # (answered, right) per day
    alpha_per_day: list[float | None]  # the last check's alpha of each day
    states: SampleCounts
    remaining: int  # labels still wanted by open samples
    compared: int  # live labels on samples that have a consensus
    confusion: list[list[int]]  # [consensus idx][label idx]
    pairs: list[Pair]
    workers: list[WorkerDay]  # who labeled in the period, most labels first
    members: int  # workers in the project
    suspended: list[Named] = field(default_factory=list)
    exams_failed: list[Named] = field(default_factory=list)
    flagged: list[Named] = field(default_factory=list)
    reports_open: int = 0  # problem reports not decided yet
    reports_samples: int = 0  # ... on this many samples
    reports_new: int = 0  # reports made in the window
    read_seconds: float = 0.0


def _connect(path: Path | str) -> sqlite3.Connection:
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    db.execute("PRAGMA busy_timeout = 5000")
    return db


def _names(db: sqlite3.Connection, ids: set[int]) -> dict[int, tuple[str, str | None, str]]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        f"SELECT id, first_name, username, language FROM workers WHERE id IN ({marks})",
        sorted(ids),
    ).fetchall()
    return {int(r[0]): (str(r[1] or ""), r[2], str(r[3])) for r in rows}


def _per_day(db: sqlite3.Connection, project_id: int, bounds: list[float]) -> list[int]:
    """Live labels answered in each [bounds[i], bounds[i+1]): one range count per day over
    labels_project_time."""
    return [
        int(
            db.execute(
                "SELECT COUNT(*) FROM labels WHERE project_id = ? AND answered_at >= ?"
                " AND answered_at < ? AND retracted_at IS NULL",
                (project_id, lo, hi),
            ).fetchone()[0]
        )
        for lo, hi in itertools.pairwise(bounds)
    ]


def _gold_per_day(
    db: sqlite3.Connection, project_id: int, bounds: list[float]
) -> list[tuple[int, int]]:
    """(answered, right) of gold answers per day: walks the gold samples (a small set, by
    samples_gold) and their labels (labels_project_sample)."""
    out = [[0, 0] for _ in bounds[1:]]
    # CROSS JOIN and INDEXED BY: from the few gold samples to their labels. Left to itself
    # the planner walks every label of the days by time (0.3 s at 1M labels, not 0.05).
    rows = db.execute(
        "SELECT l.answered_at, o.key = s.truth FROM samples AS s"
        " CROSS JOIN labels AS l INDEXED BY labels_project_sample"
        " ON l.project_id = s.project_id AND l.sample_id = s.id"
        " JOIN options AS o ON o.id = l.option_id"
        " WHERE s.project_id = ? AND s.gold = 1 AND l.retracted_at IS NULL"
        " AND l.answered_at >= ? AND l.answered_at < ?",
        (project_id, bounds[0], bounds[-1]),
    )
    for at, right in rows:
        i = bisect_right(bounds, at) - 1
        out[i][0] += 1
        out[i][1] += int(right)
    return [(a, r) for a, r in out]


def _alpha_per_day(
    db: sqlite3.Connection, project_id: int, bounds: list[float]
) -> list[float | None]:
    """The alpha of each day's last quality check (None: no check that day)."""
    out: list[float | None] = [None] * (len(bounds) - 1)
    rows = db.execute(
        "SELECT at, summary ->> '$.alpha' FROM quality_runs"
        " WHERE project_id = ? AND at >= ? AND at < ? ORDER BY id",
        (project_id, bounds[0], bounds[-1]),
    )
    for at, alpha in rows:
        if alpha is not None:
            out[bisect_right(bounds, at) - 1] = float(alpha)
    return out


def _confusion(
    db: sqlite3.Connection, project_id: int, option_ids: dict[int, int]
) -> list[list[int]]:
    """Labels by (consensus option, option given): the last quality check's matrix (it has
    every label in memory anyway), else counted here (0.66 s of the digest's ~3 s of CPU at
    1,000,000 labels)."""
    k = len(option_ids)
    row = db.execute(
        "SELECT summary ->> '$.confusion' FROM quality_runs WHERE project_id = ?"
        " ORDER BY id DESC LIMIT 1",
        (project_id,),
    ).fetchone()
    if row is not None and row[0] is not None:
        stored = json.loads(row[0])
        if len(stored) == k and all(len(r) == k for r in stored):  # options unchanged since
            return [[int(n) for n in r] for r in stored]
    matrix = [[0] * k for _ in range(k)]
    rows = db.execute(
        "SELECT s.consensus, l.option_id, COUNT(*) FROM labels AS l"
        " JOIN samples AS s ON s.id = l.sample_id"
        " WHERE l.project_id = ? AND l.retracted_at IS NULL AND s.consensus IS NOT NULL"
        " GROUP BY s.consensus, l.option_id",
        (project_id,),
    )
    for consensus, given, n in rows:
        if consensus in option_ids and given in option_ids:
            matrix[option_ids[consensus]][option_ids[given]] += int(n)
    return matrix


def _pairs(
    db: sqlite3.Connection,
    project_id: int,
    matrix: list[list[int]],
    idx_to_id: list[int],
) -> list[Pair]:
    k = len(matrix)
    both = [
        (matrix[a][b] + matrix[b][a], a, b)
        for a in range(k)
        for b in range(a + 1, k)
        if matrix[a][b] + matrix[b][a] > 0
    ]
    both.sort(key=lambda x: (-x[0], x[1], x[2]))
    pairs = []
    for count, a, b in both[:CONFUSED_PAIRS]:
        # the side given more often against the other's consensus gives the example
        cons, given = (a, b) if matrix[a][b] >= matrix[b][a] else (b, a)
        row = db.execute(
            "SELECT s.text, s.ext_id FROM labels AS l JOIN samples AS s ON s.id = l.sample_id"
            " WHERE l.project_id = ? AND l.option_id = ? AND s.consensus = ?"
            " AND l.retracted_at IS NULL LIMIT 1",
            (project_id, idx_to_id[given], idx_to_id[cons]),
        ).fetchone()
        example = "" if row is None else str(row[0] or row[1])
        if len(example) > 80:
            example = example[:79].rstrip() + "…"
        pairs.append(Pair(a, b, count, example))
    return pairs


def _workers(
    db: sqlite3.Connection, project_id: int, since: float, until: float
) -> list[WorkerDay]:
    rows = db.execute(
        "SELECT l.worker_id, COUNT(*), SUM(s.gold),"
        " SUM(s.gold = 1 AND o.key = s.truth),"
        " SUM(s.gold = 0 AND s.consensus IS NOT NULL),"
        " SUM(s.gold = 0 AND s.consensus = l.option_id)"
        " FROM labels AS l JOIN samples AS s ON s.id = l.sample_id"
        " JOIN options AS o ON o.id = l.option_id"
        " WHERE l.project_id = ? AND l.answered_at >= ? AND l.answered_at < ?"
        " AND l.retracted_at IS NULL GROUP BY l.worker_id",
        (project_id, since, until),
    ).fetchall()
    names = _names(db, {int(r[0]) for r in rows})
    out = [
        WorkerDay(
            user_id=int(r[0]),
            name=names.get(int(r[0]), ("", None, "en"))[0],
            username=names.get(int(r[0]), ("", None, "en"))[1],
            labels=int(r[1]),
            gold_answered=int(r[2] or 0),
            gold_right=int(r[3] or 0),
            compared=int(r[4] or 0),
            agreed=int(r[5] or 0),
            language=names.get(int(r[0]), ("", None, "en"))[2],
        )
        for r in rows
    ]
    out.sort(key=lambda w: (-w.labels, w.user_id))
    return out


def _new_flags(
    db: sqlite3.Connection, project_id: int, since: float, until: float
) -> dict[int, str]:
    """Workers first flagged in (since, until]: user id -> the rule ('' if not known).

    From the roster's worker_flags (a flag per worker and rule, with when it was first
    raised) and from the checks' summaries: a worker in a summary of the window but not in
    the last one before it was flagged anew. A flag that stays up is news once.
    """
    new: dict[int, str] = {}
    has_flags = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'worker_flags'"
    ).fetchone()
    if has_flags:
        for worker, rule in db.execute(
            "SELECT worker_id, rule FROM worker_flags WHERE project_id = ? AND first_at > ?"
            " AND first_at <= ? ORDER BY id",
            (project_id, since, until),
        ):
            new.setdefault(int(worker), str(rule))
    before = db.execute(
        "SELECT summary ->> '$.flagged' FROM quality_runs WHERE project_id = ? AND at <= ?"
        " ORDER BY at DESC, id DESC LIMIT 1",
        (project_id, since),
    ).fetchone()
    known = {int(e[0]) for e in json.loads((before[0] if before else None) or "[]")}
    for (flags,) in db.execute(
        "SELECT summary ->> '$.flagged' FROM quality_runs WHERE project_id = ? AND at > ?"
        " AND at <= ? ORDER BY id",
        (project_id, since, until),
    ):
        for entry in json.loads(flags or "[]"):
            if int(entry[0]) not in known:
                new.setdefault(int(entry[0]), "")
    return new


def _news(
    db: sqlite3.Connection, project_id: int, since: float, until: float
) -> tuple[list[Named], list[Named], list[Named]]:
    """(suspended, failed exams, flagged) in (since, until]: each event once, in the first
    digest after it happened."""
    suspended: dict[int, str] = {}
    failed: set[int] = set()
    for kind, actor, data in db.execute(
        "SELECT kind, actor, data FROM events WHERE project_id = ? AND at > ? AND at <= ?"
        " AND kind IN ('worker.suspended', 'exam.failed') ORDER BY id",
        (project_id, since, until),
    ):
        info = json.loads(data)
        if kind == "worker.suspended" and "worker" in info:
            suspended[int(info["worker"])] = str(info.get("rule") or "")
        elif kind == "exam.failed" and actor is not None:
            failed.add(int(actor))
    flagged = _new_flags(db, project_id, since, until)
    for user_id in suspended:
        flagged.pop(user_id, None)
    names = _names(db, set(suspended) | failed | set(flagged))

    def named(user_id: int, what: str = "") -> Named:
        name, username, _ = names.get(user_id, ("", None, "en"))
        return Named(user_id, name, username, what)

    return (
        [named(u, rule) for u, rule in suspended.items()],
        [named(u) for u in sorted(failed)],
        [named(u, flagged[u]) for u in sorted(flagged)],
    )


def read_figures(
    path: Path | str, project_id: int, bounds: list[float], since: float, until: float
) -> DigestFigures:
    """A project's digest figures (blocking; a read-only connection of its own).

    `bounds`: the local days' starts and the last day's end (N+1 times for N days); the
    per-day series follow them. Workers' figures cover the 24 hours up to `until`; the news
    (suspensions, failed exams, flags, new reports) cover (since, until].
    """
    started = time.perf_counter()
    db = _connect(path)
    try:
        db.execute("BEGIN")  # one snapshot for every figure
        opts = db.execute(
            "SELECT id, idx, texts FROM options WHERE project_id = ? ORDER BY idx",
            (project_id,),
        ).fetchall()
        idx_to_id = [int(o[0]) for o in opts]
        option_ids = {int(o[0]): i for i, o in enumerate(opts)}
        states = sample_counts_of(db.execute(SAMPLE_STATES, (project_id,)).fetchone())
        # Labels still wanted and not yet on anyone's screen: the pick index covers it (a
        # scan of every sample took 0.2 s at 330,000); the few cards out now are left out.
        remaining = db.execute(
            "SELECT COALESCE(SUM(need), 0) FROM samples INDEXED BY samples_pick"
            " WHERE project_id = ? AND need > 0 AND held IS NOT 'excluded'",
            (project_id,),
        ).fetchone()
        matrix = _confusion(db, project_id, option_ids)
        suspended, failed, flagged = _news(db, project_id, since, until)
        # Open reports: not decided yet (reports_open index); new: made in the window.
        reports = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT sample_id),"
            " (SELECT COUNT(*) FROM reports WHERE project_id = ?1 AND created_at > ?2"
            "  AND created_at <= ?3)"
            " FROM reports WHERE project_id = ?1 AND decided_at IS NULL",
            (project_id, since, until),
        ).fetchone()
        members = db.execute(
            "SELECT COUNT(*) FROM memberships WHERE project_id = ? AND role = 'worker'"
            " AND worker_id > 0",
            (project_id,),
        ).fetchone()
        figures = DigestFigures(
            project_id=project_id,
            options=[json.loads(o[2]) for o in opts],
            labels_per_day=_per_day(db, project_id, bounds),
            gold_per_day=_gold_per_day(db, project_id, bounds),
            alpha_per_day=_alpha_per_day(db, project_id, bounds),
            states=states,
            remaining=int(remaining[0]),
            compared=sum(map(sum, matrix)),
            confusion=matrix,
            pairs=_pairs(db, project_id, matrix, idx_to_id),
            workers=_workers(db, project_id, until - 86400.0, until),
            members=int(members[0]),
            suspended=suspended,
            exams_failed=failed,
            flagged=flagged,
            reports_open=int(reports[0]),
            reports_samples=int(reports[1]),
            reports_new=int(reports[2]),
        )
        db.execute("COMMIT")
    finally:
        db.close()
    figures.read_seconds = time.perf_counter() - started
    return figures


class Digests(Database):
    """What each digest covered, who got it, and who opted out (issue 15)."""

    async def digest_window(
        self, project_id: int, day: str, now: float, first_since: float
    ) -> tuple[float, float]:
        """(since, until) of the project's digest of local `day`: made once (the first call
        records it: news after the previous day's digest, or after `first_since` for the
        first one, up to `now`), the same on every later call that day."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO digest_runs (project_id, day, since, until, created_at)"
                " VALUES (?1, ?2, COALESCE((SELECT MAX(until) FROM digest_runs"
                " WHERE project_id = ?1 AND day < ?2), ?3), ?4, ?4)"
                " ON CONFLICT DO NOTHING",
                (project_id, day, first_since, now),
            )
            async with db.execute(
                "SELECT since, until FROM digest_runs WHERE project_id = ? AND day = ?",
                (project_id, day),
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return float(row[0]), float(row[1])

    async def last_digest_until(self, project_id: int) -> float | None:
        """Where the project's last scheduled digest's news ended (None: never one)."""
        row = await self.one(
            "SELECT MAX(until) FROM digest_runs WHERE project_id = ?", (project_id,)
        )
        return None if row is None or row[0] is None else float(row[0])

    async def digest_pending(self, project_id: int, day: str) -> bool:
        """Whether the project's digest of `day` still has work: never made, not every
        recipient tried yet (a crash on the way), or a failed send to try again."""
        row = await self.one(
            "SELECT done_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM digest_sends"
            " WHERE project_id = ?1 AND day = ?2 AND state = 'failed'"
            f" AND attempts < {MAX_SEND_ATTEMPTS})"
            " FROM digest_runs WHERE project_id = ?1 AND day = ?2",
            (project_id, day),
        )
        return row is None or not row[0]

    async def digest_finished(self, project_id: int, day: str, now: float | None = None) -> None:
        """Every recipient of the day's digest was tried."""
        await self.write(
            "UPDATE digest_runs SET done_at = ? WHERE project_id = ? AND day = ?",
            (time.time() if now is None else now, project_id, day),
        )

    async def claim_digest(
        self, project_id: int, day: str, user_id: int, kind: str, now: float | None = None
    ) -> bool:
        """Claim the sending of `day`'s digest to a user: True once (and again after a
        failed send, up to MAX_SEND_ATTEMPTS), False when it was sent, is being sent, or
        went to someone unreachable."""
        now = time.time() if now is None else now
        cur = await self.write(
            "INSERT INTO digest_sends (project_id, day, user_id, kind, state, at)"
            " VALUES (?, ?, ?, ?, 'sending', ?)"
            " ON CONFLICT DO UPDATE SET state = 'sending', attempts = attempts + 1,"
            " at = excluded.at"
            f" WHERE state = 'failed' AND attempts < {MAX_SEND_ATTEMPTS}",
            (project_id, day, user_id, kind, now),
        )
        return cur > 0

    async def digest_sent(
        self, project_id: int, day: str, user_id: int, state: str, now: float | None = None
    ) -> None:
        """Record how a claimed send ended: 'sent', 'unreachable' (blocked) or 'failed'
        (to be tried again)."""
        assert state in ("sent", "unreachable", "failed")
        await self.write(
            "UPDATE digest_sends SET state = ?, at = ? WHERE project_id = ? AND day = ?"
            " AND user_id = ?",
            (state, time.time() if now is None else now, project_id, day, user_id),
        )

    async def digest_sends(self, project_id: int, day: str) -> dict[int, str]:
        """Recipients of a day's digest and the state of each send."""
        rows = await self.all(
            "SELECT user_id, state FROM digest_sends WHERE project_id = ? AND day = ?",
            (project_id, day),
        )
        return {int(r[0]): str(r[1]) for r in rows}

    async def digest_audience(self, project_id: int, since: float) -> tuple[set[int], bool]:
        """(the project's members, whether anyone labeled in it since `since`): who may get
        a worker's digest (not someone who left), and whether there is any to send."""
        rows = await self.all(
            "SELECT worker_id FROM memberships WHERE project_id = ? AND worker_id > 0",
            (project_id,),
        )
        labeled = await self.one(
            "SELECT 1 FROM labels WHERE project_id = ? AND answered_at >= ? LIMIT 1",
            (project_id, since),
        )
        return {int(r[0]) for r in rows}, labeled is not None

    async def digest_paused_or_closed(self, project_id: int) -> str | None:
        """The project's life state if it is not running ('paused', 'closed', 'archived')."""
        row = await self.one("SELECT state FROM project_life WHERE project_id = ?", (project_id,))
        return None if row is None else str(row[0])

    async def set_digest_optout(self, user_id: int, off: bool) -> bool:
        """/digest off (True) or on (False); whether it changed anything."""
        if off:
            return (
                await self.write(
                    "INSERT INTO digest_optouts (worker_id, at) VALUES (?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (user_id, time.time()),
                )
                > 0
            )
        return await self.write("DELETE FROM digest_optouts WHERE worker_id = ?", (user_id,)) > 0

    async def digest_optouts(self) -> set[int]:
        """Workers who turned their digest off."""
        return {int(r[0]) for r in await self.all("SELECT worker_id FROM digest_optouts")}
