"""The only place with SQL: one aiosqlite connection, WAL, foreign keys on.

Every write is one transaction behind an asyncio lock: the single connection is shared by
concurrent handlers, and without the lock one handler's statements could land inside
another's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import numpy as np
import numpy.typing as npt

from config.project import ProjectSpec
from intake.dedup import KeySet
from storage.effects import once, remember
from storage.errors import Conflict, DatabaseUnavailable, NotFound, StorageError
from storage.migrations import MIGRATIONS
from storage.models import (
    MAX_EXT_ID,
    SAMPLE_KINDS,
    Card,
    ImportSummary,
    LabelOutcome,
    LabelRow,
    LabelStatus,
    NewSample,
    Option,
    Project,
    ProjectStatus,
    Role,
    Sample,
    SampleCounts,
    SampleIn,
    UndoOutcome,
    UndoStatus,
    Worker,
    WorkerStats,
)

# The next sample for a worker: walk the pick index in priority order (fewest labels still
# needed first, so started samples finish), skipping samples this worker was ever shown.
_PICK = """
FROM samples AS s
WHERE s.project_id = :project AND s.need > 0
  AND NOT EXISTS (SELECT 1 FROM assignments AS a
                  WHERE a.sample_id = s.id AND a.worker_id = :worker)
ORDER BY s.need, s.id
LIMIT 1
"""
PICK_SQL = "SELECT s.id" + _PICK
# Pick and claim in one statement: nothing can take the sample in between.
CLAIM_SQL = (
    "INSERT INTO assignments (sample_id, project_id, worker_id, status, shown_at, expires_at)"
    " SELECT s.id, s.project_id, :worker, 'open', :now, :expires"
    + _PICK
    + " RETURNING id, sample_id, expires_at"
)
# A gold (control) sample this worker has not seen, least used first.
GOLD_CLAIM_SQL = """
INSERT INTO assignments (sample_id, project_id, worker_id, status, shown_at, expires_at)
SELECT s.id, s.project_id, :worker, 'open', :now, :expires
FROM samples AS s
WHERE s.project_id = :project AND s.gold = 1
  AND NOT EXISTS (SELECT 1 FROM assignments AS a
                  WHERE a.sample_id = s.id AND a.worker_id = :worker)
ORDER BY s.n_labels, s.id
LIMIT 1
RETURNING id, sample_id, expires_at
"""
DUE_SQL = "SELECT 1 FROM assignments WHERE status = 'open' AND expires_at <= ? LIMIT 1"
# Workers told "all done" for whom a sample is available again (new data, expired cards).
IDLE_WITH_WORK_SQL = """
SELECT m.worker_id, m.project_id FROM memberships AS m
WHERE m.idle_since IS NOT NULL
  AND EXISTS (SELECT 1 FROM samples AS s
              WHERE s.project_id = m.project_id AND s.need > 0
                AND NOT EXISTS (SELECT 1 FROM assignments AS a
                                WHERE a.sample_id = s.id AND a.worker_id = m.worker_id))
"""
# A label is one UPDATE; triggers add the label row, the counters and the audit event.
ANSWER_SQL = """
UPDATE assignments SET status = 'done', closed_at = :now, answer_update = :update,
    option_id = (SELECT o.id FROM options AS o
                 WHERE o.project_id = assignments.project_id AND o.idx = :idx)
WHERE id = :assignment AND worker_id = :worker AND status = 'open' AND expires_at > :now
  AND EXISTS (SELECT 1 FROM options AS o WHERE o.project_id = assignments.project_id
              AND o.idx = :idx)
  AND NOT EXISTS (SELECT 1 FROM labels AS l WHERE l.assignment_id = :assignment
                  AND l.update_id = :update)
RETURNING project_id, option_id
"""

_PROJECT_COLS = (
    "id, slug, name, question, guide, guide_version, overlap, assignment_timeout, created_at"
)
_SAMPLE_COLS = (
    "id, project_id, ext_id, kind, text, media, file_id, truth, target, n_labels, n_open"
)
_WORKER_COLS = "id, first_name, username, language, language_chosen, current_project_id"
_DAY = 86400.0
_SWEEP_EVERY_S = 1.0
_AUTOCHECKPOINT_PAGES = 20_000
Row = tuple[Any, ...]


def _project(row: sqlite3.Row | tuple[Any, ...]) -> Project:
    return Project(
        id=row[0],
        slug=row[1],
        name=row[2],
        question=json.loads(row[3]),
        guide=json.loads(row[4]),
        guide_version=row[5],
        overlap=row[6],
        assignment_timeout=row[7],
        created_at=row[8],
    )


def _sample(row: sqlite3.Row | tuple[Any, ...]) -> Sample:
    return Sample(
        id=row[0],
        project_id=row[1],
        ext_id=row[2],
        kind=row[3],
        text=row[4],
        media=row[5],
        file_id=row[6],
        truth=row[7],
        target=row[8],
        n_labels=row[9],
        n_open=row[10],
    )


def _worker(row: sqlite3.Row | tuple[Any, ...]) -> Worker:
    return Worker(
        id=row[0],
        first_name=row[1],
        username=row[2],
        language=row[3],
        language_chosen=bool(row[4]),
        current_project_id=row[5],
    )


class Repository:
    """Typed async access to the Labelgram database."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._import_lock = asyncio.Lock()  # one import at a time (see import_session)
        self._options: dict[int, tuple[Option, ...]] = {}
        self._projects: dict[int, Project] = {}
        self._specs: dict[int, ProjectSpec] = {}
        self._sweep_due = 0.0
        self._checkpointer: aiosqlite.Connection | None = None

    # ---------------------------------------------------------------- lifecycle

    async def open(self) -> None:
        """Open (creating if needed) and migrate the database."""
        if self.path != Path(":memory:") and not self.path.parent.is_dir():
            raise DatabaseUnavailable(
                f"cannot open database {self.path}: folder {self.path.parent} does not exist; "
                "create it or set LABELGRAM_DB_PATH"
            )
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            await self._db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a commit survives a crash of this process (it is in the WAL
            # file before COMMIT returns); only a power loss can drop the last transactions.
            await self._db.execute("PRAGMA synchronous = NORMAL")
            await self._db.execute("PRAGMA foreign_keys = ON")
            await self._db.execute("PRAGMA busy_timeout = 5000")
            # Checkpoints run from a second connection (checkpoint(), scheduled by the bot):
            # SQLite's automatic one would copy ~1,000 pages and fsync inside some unlucky
            # label's COMMIT (measured: record_label p99 9 ms instead of 0.4 ms). The large
            # automatic threshold stays as a safety net when nothing schedules checkpoints.
            await self._db.execute(f"PRAGMA wal_autocheckpoint = {_AUTOCHECKPOINT_PAGES}")
            await self._migrate()
            if self.path != Path(":memory:"):
                _remove_abandoned_stages(self.path)
                self._checkpointer = await aiosqlite.connect(self.path)
                await self._checkpointer.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.Error as exc:
            await self.close()
            raise DatabaseUnavailable(
                f"cannot open database {self.path}: {exc}; "
                "check that it is a Labelgram database and writable, or set LABELGRAM_DB_PATH"
            ) from exc

    async def close(self) -> None:
        """Close the connections (safe to call twice)."""
        if self._checkpointer is not None:
            checkpointer, self._checkpointer = self._checkpointer, None
            await checkpointer.close()
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    async def checkpoint(self) -> tuple[int, int]:
        """Copy the WAL into the database without blocking writers: (WAL pages, copied).

        Runs on its own connection and thread and takes no repository lock: a PASSIVE
        checkpoint never waits for, nor stops, the writes of labeling.
        """
        if self._checkpointer is None:
            return (0, 0)
        rows = await self._checkpointer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        row = next(iter(rows), (0, 0, 0))
        return int(row[1]), int(row[2])

    async def __aenter__(self) -> Repository:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def db(self) -> aiosqlite.Connection:
        """The open connection."""
        if self._db is None:
            raise StorageError("the repository is not open")
        return self._db

    async def _migrate(self) -> None:
        async with self.db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise DatabaseUnavailable(
                f"database {self.path} has schema version {version}, newer than this "
                f"Labelgram ({len(MIGRATIONS)}); upgrade Labelgram"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            # executescript commits first, so the version bump rides in the same script.
            await self.db.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
            )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One atomic write: everything inside lands, or nothing does."""
        async with self._lock:
            db = self.db
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield db
            except BaseException:
                await _roll_back(db)
                raise
            await db.execute("COMMIT")

    # execute_fetchall is one trip to the connection's thread; execute + fetchone + close is
    # three, and under load every trip waits its turn on the event loop.
    async def _one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Row | None:
        rows = await self.db.execute_fetchall(sql, params)
        for row in rows:
            return tuple(row)
        return None

    async def _all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        return [tuple(r) for r in await self.db.execute_fetchall(sql, params)]

    async def schema_version(self) -> int:
        """The applied migration number."""
        row = await self._one("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def write(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """One statement that changes rows, atomic by itself (no BEGIN/COMMIT round trips);
        the number of rows it changed."""
        async with self._lock:
            cursor = await self.db.execute(sql, params)
            count = cursor.rowcount
            await cursor.close()
            return int(count)

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
            await _event(db, kind, actor, project_id, data, now)

    # ---------------------------------------------------------------- projects

    async def create_project(self, spec: ProjectSpec, *, actor: int | None = None) -> Project:
        """Store a project and its options; the slug must be new."""
        async with self.transaction() as db:
            project_id = await _insert_project(db, spec, actor, time.time())
        return await self.get_project(project_id)

    @asynccontextmanager
    async def project_draft(
        self, spec: ProjectSpec, *, actor: int | None = None
    ) -> AsyncIterator[Project]:
        """A new project that is stored together with its first import, or not at all.

        Yields the project `spec` will become, with the id it will get, not stored yet. The
        first import into that id (`import_session`) stores it in the transaction that
        publishes the import's samples, so a failed import, Ctrl-C or a crash leaves no
        project behind and the same command can simply run again. Leaving the block without
        such an import stores the project alone; leaving it with an exception stores nothing.
        Only the import may use the id inside the block (invites need the stored project).
        """
        if await self._one("SELECT 1 FROM projects WHERE slug = ?", (spec.slug,)):
            raise Conflict(_slug_taken(spec.slug))
        row = await self._one("SELECT COALESCE(MAX(id), 0) + 1 FROM projects")
        assert row is not None
        draft = Project(
            id=int(row[0]),
            slug=spec.slug,
            name=spec.name,
            question=spec.question,
            guide=spec.guide,
            guide_version=1,
            overlap=spec.overlap,
            assignment_timeout=spec.assignment_timeout,
            created_at=time.time(),
        )
        # The import path reads the project through these caches (get_project,
        # project_spec); `_draft_spec` tells a draft from a stored project.
        self._projects[draft.id], self._specs[draft.id] = draft, spec
        try:
            yield draft
            if await self._draft_spec(draft.id) is not None:  # no import was published
                async with self.transaction() as db:
                    await _insert_project(db, spec, actor, time.time(), project_id=draft.id)
        finally:
            # Stored or not, the next read comes from the database.
            self._projects.pop(draft.id, None)
            self._specs.pop(draft.id, None)
            self._options.pop(draft.id, None)

    async def _draft_spec(self, project_id: int) -> ProjectSpec | None:
        """The spec of a `project_draft` not stored yet; None for a stored project."""
        row = await self._one("SELECT slug FROM projects WHERE id = ?", (project_id,))
        draft = self._projects.get(project_id)
        if row is None:
            spec = self._specs.get(project_id)
            if draft is None or spec is None:
                raise NotFound(f"no project {project_id}")
            return spec
        if draft is not None and draft.slug != row[0]:
            raise Conflict(
                f"another project took id {project_id} while '{draft.slug}' was being created;"
                " nothing was stored, run the command again"
            )
        return None

    async def get_project(self, key: int | str) -> Project:
        """A project by id or slug."""
        if isinstance(key, int) and key in self._projects:
            return self._projects[key]
        where = "id = ?" if isinstance(key, int) else "slug = ?"
        row = await self._one(f"SELECT {_PROJECT_COLS} FROM projects WHERE {where}", (key,))
        if row is None:
            raise NotFound(f"no project '{key}'; `labelgram project list` shows the projects")
        project = _project(row)
        self._projects[project.id] = project
        return project

    async def project_spec(self, project_id: int) -> ProjectSpec:
        """The project file as it was validated when the project was created.

        Cached: a project's spec is written once, at creation, and never updated.
        """
        spec = self._specs.get(project_id)
        if spec is None:
            row = await self._one("SELECT spec FROM projects WHERE id = ?", (project_id,))
            if row is None:
                raise NotFound(f"no project {project_id}")
            spec = self._specs[project_id] = ProjectSpec.model_validate_json(row[0])
        return spec

    async def list_projects(self) -> list[Project]:
        """All projects, oldest first."""
        rows = await self._all(f"SELECT {_PROJECT_COLS} FROM projects ORDER BY id")
        return [_project(r) for r in rows]

    async def options(self, project_id: int) -> tuple[Option, ...]:
        """A project's options in button order (cached: options never change)."""
        cached = self._options.get(project_id)
        if cached is not None:
            return cached
        rows = await self._all(
            "SELECT id, project_id, idx, key, texts FROM options WHERE project_id = ?"
            " ORDER BY idx",
            (project_id,),
        )
        opts = tuple(
            Option(id=r[0], project_id=r[1], idx=r[2], key=r[3], texts=json.loads(r[4]))
            for r in rows
        )
        self._options[project_id] = opts
        return opts

    # ---------------------------------------------------------------- samples

    async def import_samples(
        self, project_id: int, samples: Iterable[SampleIn], *, actor: int | None = None
    ) -> tuple[int, int]:
        """Add samples in one transaction; ids already in the project are left alone.

        A plain loader (tests, benchmarks): it never makes gold (control) samples, whatever the
        project's gold rate; file imports go through `import_session`, which does.

        Returns (added, already present). Truth values must be option keys of the project.
        """
        project = await self.get_project(project_id)
        keys = {o.key for o in await self.options(project_id)}
        now = time.time()
        added = seen = 0
        async with self._import_lock, self.transaction() as db:
            batch: list[tuple[Any, ...]] = []
            for s in samples:
                if s.kind not in SAMPLE_KINDS:
                    raise ValueError(f"sample {s.ext_id}: kind must be one of {SAMPLE_KINDS}")
                if s.truth is not None and s.truth not in keys:
                    raise ValueError(
                        f"sample {s.ext_id}: truth '{s.truth}' is not an option "
                        f"({', '.join(sorted(keys))})"
                    )
                batch.append(
                    (
                        project_id,
                        s.ext_id,
                        s.kind,
                        s.text,
                        s.media,
                        s.truth,
                        project.overlap,
                        project.overlap,
                        now,
                    )
                )
                if len(batch) >= 5000:
                    n = await _insert_samples(db, batch)
                    added, seen = added + n, seen + len(batch) - n
                    batch.clear()
            if batch:
                n = await _insert_samples(db, batch)
                added, seen = added + n, seen + len(batch) - n
            await _event(
                db, "samples.imported", actor, project_id, {"added": added, "present": seen}, now
            )
        return added, seen

    @asynccontextmanager
    async def import_session(
        self,
        project_id: int,
        source: str,
        *,
        actor: int | None = None,
        duplicates: bool = True,
    ) -> AsyncIterator[ImportSession]:
        """One import, all or nothing: batches go in through the session, then its report.

        duplicates: drop samples whose content key is already in the project or earlier in
        this import (the exact-duplicate rule); when False only the ids must be new.

        The batches are staged in a scratch database of their own (no indexes, no journal:
        nothing in it matters until it is published), so the import holds no lock while it
        reads and cleans and labeling goes on meanwhile. Leaving the block normally
        publishes it: one transaction copies the staged rows into `samples` and records the
        import. Leaving it with an exception (or Ctrl-C, or a crash) publishes nothing; the
        scratch file is deleted (a crash's leftover at the next `open`). One import runs at
        a time per repository, so the duplicate checks see every sample added before.

        `project_id` may be a `project_draft`'s: publishing then stores the project too, in
        the same transaction.
        """
        creating = await self._draft_spec(project_id)
        project = await self.get_project(project_id)
        if creating is not None:
            keys = frozenset(o.id for o in creating.options)
        else:
            keys = frozenset(o.key for o in await self.options(project_id))
        spec = creating or await self.project_spec(project_id)
        async with self._import_lock:
            ids, existing = KeySet(), KeySet() if duplicates else None
            # Under the lock: a tap's ROLLBACK on this connection would abort the read.
            async with (
                self._lock,
                self.db.execute(
                    "SELECT ext_id, content_key FROM samples WHERE project_id = ?", (project_id,)
                ) as cur,
            ):
                while rows := await cur.fetchmany(50_000):  # flat memory on big projects
                    ids.add(_key_hashes(r[0] for r in rows))
                    if existing is not None:
                        existing.add(_key_hashes(r[1] for r in rows if r[1] is not None))
            stage_path = self._stage_path()
            stage = await aiosqlite.connect(stage_path, isolation_level=None)
            try:
                await stage.execute("PRAGMA journal_mode = OFF")
                await stage.execute("PRAGMA synchronous = OFF")
                await stage.execute(f"CREATE TABLE staged ({_STAGED_COLUMNS})")
                session = ImportSession(
                    stage,
                    project,
                    keys,
                    ids,
                    gold=spec.quality.gold_rate > 0,
                    existing=existing,
                    creating=creating,
                )
                yield session
                await stage.close()
                await self._publish(session, stage_path, source, actor)
            finally:
                await stage.close()
                stage_path.unlink(missing_ok=True)

    def _stage_path(self) -> Path:
        """A new scratch file for an import, next to the database (same disk)."""
        folder = None if self.path == Path(":memory:") else self.path.parent
        prefix = f"{self.path.name}.import-" if folder is not None else "labelgram-import-"
        handle, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
        os.close(handle)
        Path(name).unlink()  # SQLite creates it; mkstemp only chose a free name
        return Path(name)

    async def _publish(
        self, session: ImportSession, stage_path: Path, source: str, actor: int | None
    ) -> None:
        """Copy the staged rows into samples and record the import, in one transaction
        (which first stores the project, when the session creates it)."""
        project_id, db = session.project_id, self.db
        async with self._lock:
            await db.execute("ATTACH DATABASE ? AS stage", (str(stage_path),))
            try:
                try:
                    await db.execute("BEGIN IMMEDIATE")
                    now = time.time()
                    if session.creating is not None:
                        await _insert_project(
                            db, session.creating, actor, now, project_id=project_id
                        )
                    cur = await db.execute(
                        "INSERT INTO imports (project_id, at, actor, source, rows_read, added,"
                        " dropped, seconds, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            project_id,
                            now,
                            actor,
                            source,
                            session.rows_read,
                            session.added,
                            session.dropped,
                            session.seconds,
                            json.dumps(session.report, ensure_ascii=False),
                        ),
                    )
                    import_id = cur.lastrowid
                    assert import_id is not None
                    before = db.total_changes
                    # WHERE true: SQLite needs it before ON CONFLICT in an INSERT ... SELECT.
                    await db.execute(
                        "INSERT INTO samples (project_id, ext_id, kind, text, media, truth,"
                        " target, need, created_at, content_key, import_id, meta, gold)"
                        " SELECT ?, ext_id, kind, text, media, truth, target, need, created_at,"
                        " content_key, ?, meta, gold FROM stage.staged WHERE true ORDER BY rowid"
                        " ON CONFLICT (project_id, ext_id) DO NOTHING",
                        (project_id, import_id),
                    )
                    if db.total_changes - before != session.added:
                        raise StorageError(
                            f"import of {source}: {session.added} samples staged but"
                            f" {db.total_changes - before} stored; nothing was imported,"
                            " import the file again"
                        )
                    await _event(
                        db,
                        "samples.imported",
                        actor,
                        project_id,
                        {"import": import_id, "added": session.added, "source": source},
                        now,
                    )
                except BaseException:
                    await _roll_back(db)
                    raise
                await db.execute("COMMIT")
                session.import_id = import_id
            finally:
                await db.execute("DETACH DATABASE stage")

    async def imports(self, project_id: int, limit: int = 5) -> list[ImportSummary]:
        """The newest import reports of a project."""
        rows = await self._all(
            "SELECT id, project_id, at, source, rows_read, added, dropped, seconds, report"
            " FROM imports WHERE project_id = ? ORDER BY id DESC LIMIT ?",
            (project_id, limit),
        )
        return [
            ImportSummary(
                id=r[0],
                project_id=r[1],
                at=r[2],
                source=r[3],
                rows_read=r[4],
                added=r[5],
                dropped=r[6],
                seconds=r[7],
                report=json.loads(r[8]),
            )
            for r in rows
        ]

    async def sample(self, sample_id: int) -> Sample:
        """One sample by id."""
        row = await self._one(f"SELECT {_SAMPLE_COLS} FROM samples WHERE id = ?", (sample_id,))
        if row is None:
            raise NotFound(f"no sample {sample_id}")
        return _sample(row)

    async def set_file_id(self, sample_id: int, file_id: str) -> None:
        """Remember Telegram's file_id so the media is uploaded only once."""
        async with self.transaction() as db:
            await db.execute("UPDATE samples SET file_id = ? WHERE id = ?", (file_id, sample_id))

    # ---------------------------------------------------------------- workers and roles

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
                f"SELECT {_WORKER_COLS} FROM workers WHERE id = ?", (user_id,)
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return _worker(tuple(row))

    async def get_worker(self, user_id: int) -> Worker | None:
        """A worker by Telegram id, or None."""
        row = await self._one(f"SELECT {_WORKER_COLS} FROM workers WHERE id = ?", (user_id,))
        return _worker(row) if row else None

    async def set_language(self, user_id: int, lang: str) -> None:
        """Pin the worker's UI language."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE workers SET language = ?, language_chosen = 1"
                " WHERE id = ? AND (language != ? OR language_chosen = 0)",
                (lang, user_id, lang),
            )
            if cur.rowcount:  # a repeated tap (or a replay) changes and logs nothing
                await _event(db, "worker.language", user_id, None, {"language": lang}, None)

    async def set_current_project(self, user_id: int, project_id: int) -> None:
        """Make `project_id` the project the worker labels in."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE workers SET current_project_id = ? WHERE id = ?", (project_id, user_id)
            )

    async def create_invite(
        self,
        project_id: int,
        role: Role,
        *,
        actor: int | None = None,
        update_id: int | None = None,
    ) -> str:
        """A new invite code (valid as a t.me deep-link start parameter); a replay of the same
        update gets the code the first one made."""
        await self.get_project(project_id)
        code = f"{'c' if role is Role.COORDINATOR else 'w'}{secrets.token_urlsafe(12)}"
        async with self.transaction() as db:
            made = await once(db, update_id, "invite")
            if made is not None:
                return str(made)
            await remember(db, update_id, "invite", code, time.time())
            await db.execute(
                "INSERT INTO invites (code, project_id, role, created_by, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (code, project_id, role.value, actor, time.time()),
            )
            await _event(db, "invite.created", actor, project_id, {"role": role.value}, None)
        return code

    async def redeem_invite(
        self, code: str, user_id: int, *, update_id: int | None = None
    ) -> tuple[Project, Role]:
        """Join the invite's project (a coordinator is never demoted by a worker link).

        With `update_id`, a replay of the same /start counts the use once.
        """
        now = time.time()
        async with self.transaction() as db:
            async with db.execute(
                "SELECT project_id, role FROM invites WHERE code = ?", (code,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise NotFound("this invite link is not valid; ask your coordinator for a new one")
            project_id, role = int(row[0]), Role(row[1])
            first = await once(db, update_id, "redeem") is None
            if first:
                await remember(db, update_id, "redeem", code, now)
                await db.execute("UPDATE invites SET uses = uses + 1 WHERE code = ?", (code,))
            await db.execute(
                "INSERT INTO memberships (worker_id, project_id, role, joined_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (worker_id, project_id) DO UPDATE SET"
                " role = CASE WHEN role = 'coordinator' THEN role ELSE excluded.role END",
                (user_id, project_id, role.value, now),
            )
            await db.execute(
                "UPDATE workers SET current_project_id = ? WHERE id = ?", (project_id, user_id)
            )
            async with db.execute(
                "SELECT role FROM memberships WHERE worker_id = ? AND project_id = ?",
                (user_id, project_id),
            ) as cur:
                got = await cur.fetchone()
            assert got is not None
            if first:
                await _event(db, "member.joined", user_id, project_id, {"role": got[0]}, now)
        return await self.get_project(project_id), Role(got[0])

    async def role_of(self, user_id: int, project_id: int) -> Role | None:
        """The user's role in the project, or None if not a member."""
        row = await self._one(
            "SELECT role FROM memberships WHERE worker_id = ? AND project_id = ?",
            (user_id, project_id),
        )
        return Role(row[0]) if row else None

    async def projects_of(self, user_id: int, role: Role | None = None) -> list[Project]:
        """Projects the user belongs to (optionally with a given role)."""
        sql = (
            f"SELECT {', '.join('p.' + c.strip() for c in _PROJECT_COLS.split(','))}"
            " FROM projects p JOIN memberships m ON m.project_id = p.id WHERE m.worker_id = ?"
        )
        params: list[Any] = [user_id]
        if role is not None:
            sql += " AND m.role = ?"
            params.append(role.value)
        return [_project(r) for r in await self._all(sql + " ORDER BY p.id", params)]

    # ---------------------------------------------------------------- assignment

    async def next_card(
        self, user_id: int, project_id: int, now: float | None = None, *, gold: str = "no"
    ) -> Card | None:
        """The worker's open card in the project, or a newly assigned one; None if none is left.

        gold: "no" (the pick index only), "first" (a gold sample if one is left, else the pick
        index) or "only" (an exam: gold samples only).
        """
        now = time.time() if now is None else now
        project = await self.get_project(project_id)
        params = {
            "project": project_id,
            "worker": user_id,
            "now": now,
            "expires": now + project.assignment_timeout,
        }
        async with self._lock:
            if now >= self._sweep_due:
                # Timed-out cards go back to the pool before picking (at most once a second;
                # the scheduled job covers quiet times).
                self._sweep_due = now + _SWEEP_EVERY_S
                if await self._one(DUE_SQL, (now,)):  # cheap probe; the sweep writes
                    await self._in_transaction(_expire, now)
            try:
                claimed: Any = []
                if gold != "no":
                    claimed = await self.db.execute_fetchall(GOLD_CLAIM_SQL, params)
                if not claimed and gold != "only":
                    claimed = await self.db.execute_fetchall(CLAIM_SQL, params)
            except sqlite3.IntegrityError:
                # The worker already holds an open card here (one at a time): show it again.
                claimed = await self.db.execute_fetchall(
                    "SELECT id, sample_id, expires_at, message_id FROM assignments"
                    " WHERE worker_id = ? AND project_id = ? AND status = 'open'",
                    (user_id, project_id),
                )
            row = next(iter(claimed), None)
            if row is None:
                return None
            assignment_id, sample_id, expires_at = row[:3]
            message_id = row[3] if len(row) > 3 else None
            srow = await self._one(
                f"SELECT {_SAMPLE_COLS} FROM samples WHERE id = ?", (sample_id,)
            )
        assert srow is not None
        return Card(
            assignment_id=assignment_id,
            project=project,
            sample=_sample(srow),
            options=await self.options(project_id),
            expires_at=expires_at,
            message_id=message_id,
        )

    async def _in_transaction(self, fn: Any, *args: Any) -> Any:
        """Run `fn(db, *args)` in BEGIN IMMEDIATE ... COMMIT; the caller holds the lock."""
        db = self.db
        try:
            await db.execute("BEGIN IMMEDIATE")
            result = await fn(db, *args)
        except BaseException:
            await _roll_back(db)
            raise
        await db.execute("COMMIT")
        return result

    async def record_label(
        self,
        assignment_id: int,
        user_id: int,
        option_idx: int,
        now: float | None = None,
        *,
        update_id: int | None = None,
    ) -> LabelOutcome:
        """Store a tapped label if the assignment is this worker's, open and unexpired.

        With `update_id`, the same tap handled again is a DUPLICATE even when its label was
        taken back with /undo meanwhile (the label row keeps the update's id).
        """
        now = time.time() if now is None else now
        params = {
            "assignment": assignment_id,
            "worker": user_id,
            "idx": option_idx,
            "now": now,
            "update": update_id,
        }
        async with self._lock:
            rows = await self.db.execute_fetchall(ANSWER_SQL, params)
            row = next(iter(rows), None)
            if row is not None:
                options = await self.options(row[0])
                option = next(o for o in options if o.id == row[1])
                return LabelOutcome(status=LabelStatus.RECORDED, project_id=row[0], option=option)
            return await self._why_not_recorded(assignment_id, user_id, option_idx, now, update_id)

    async def _why_not_recorded(
        self,
        assignment_id: int,
        user_id: int,
        option_idx: int,
        now: float,
        update_id: int | None = None,
    ) -> LabelOutcome:
        """Explain a tap that stored nothing (the caller holds the lock)."""
        row = await self._one(
            "SELECT project_id, worker_id, status, expires_at, option_id FROM assignments"
            " WHERE id = ?",
            (assignment_id,),
        )
        if row is None or row[1] != user_id:
            return LabelOutcome(status=LabelStatus.NOT_YOURS)
        project_id, _, status, expires_at, option_id = row
        options = await self.options(project_id)
        if status == "done":
            chosen = next((o for o in options if o.id == option_id), None)
            return LabelOutcome(status=LabelStatus.DUPLICATE, project_id=project_id, option=chosen)
        if status != "open":
            closed = LabelStatus.EXPIRED if status == "expired" else LabelStatus.CLOSED
            return LabelOutcome(status=closed, project_id=project_id)
        if not 0 <= option_idx < len(options):
            return LabelOutcome(status=LabelStatus.BAD_OPTION, project_id=project_id)
        if update_id is not None:
            given = await self._one(
                "SELECT option_id FROM labels WHERE assignment_id = ? AND update_id = ?",
                (assignment_id, update_id),
            )
            if given is not None:  # this tap's label was given, then taken back with /undo
                chosen = next((o for o in options if o.id == given[0]), None)
                return LabelOutcome(
                    status=LabelStatus.DUPLICATE, project_id=project_id, option=chosen
                )
        if expires_at <= now:
            await self.db.execute(
                "UPDATE assignments SET status = 'expired', closed_at = ?"
                " WHERE id = ? AND status = 'open'",
                (now, assignment_id),
            )
            return LabelOutcome(status=LabelStatus.EXPIRED, project_id=project_id)
        raise StorageError(f"assignment {assignment_id}: label not stored for an unknown reason")

    async def close_assignment(
        self,
        assignment_id: int,
        user_id: int,
        status: str,
        reason: str | None = None,
        now: float | None = None,
    ) -> LabelOutcome:
        """Skip or report an open assignment; the sample goes back to the pool for others."""
        if status not in ("skipped", "reported"):
            raise ValueError("status must be 'skipped' or 'reported'")
        now = time.time() if now is None else now
        async with self.transaction() as db:
            async with db.execute(
                "SELECT project_id, sample_id, worker_id, status FROM assignments WHERE id = ?",
                (assignment_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None or row[2] != user_id:
                return LabelOutcome(status=LabelStatus.NOT_YOURS)
            project_id, sample_id, _, current = row
            if current == "done":
                return LabelOutcome(status=LabelStatus.DUPLICATE, project_id=project_id)
            if current != "open":
                closed = LabelStatus.EXPIRED if current == "expired" else LabelStatus.CLOSED
                return LabelOutcome(status=closed, project_id=project_id)
            # A skip or report after the timeout still counts: the worker looked at it.
            await db.execute(
                "UPDATE assignments SET status = ?, closed_at = ? WHERE id = ?",
                (status, now, assignment_id),
            )
            if status == "reported":
                await db.execute(
                    "INSERT INTO reports (assignment_id, project_id, sample_id, worker_id,"
                    " reason, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (assignment_id, project_id, sample_id, user_id, reason or "other", now),
                )
            await _event(
                db,
                f"assignment.{status}",
                user_id,
                project_id,
                {"assignment": assignment_id, "sample": sample_id, "reason": reason},
                now,
            )
        return LabelOutcome(status=LabelStatus.RECORDED, project_id=project_id)

    async def open_card(self, assignment_id: int, user_id: int) -> Card | None:
        """The card of an assignment that is this worker's and still open, else None."""
        row = await self._one(
            "SELECT project_id, sample_id, expires_at, message_id FROM assignments"
            " WHERE id = ? AND worker_id = ? AND status = 'open'",
            (assignment_id, user_id),
        )
        if row is None:
            return None
        return Card(
            assignment_id=assignment_id,
            project=await self.get_project(row[0]),
            sample=await self.sample(row[1]),
            options=await self.options(row[0]),
            expires_at=row[2],
            message_id=row[3],
        )

    async def open_card_of(self, user_id: int, project_id: int) -> Card | None:
        """The worker's open card in the project (there is at most one), else None."""
        row = await self._one(
            "SELECT id FROM assignments"
            " WHERE worker_id = ? AND project_id = ? AND status = 'open'",
            (user_id, project_id),
        )
        return None if row is None else await self.open_card(int(row[0]), user_id)

    async def card_sent(self, assignment_id: int, message_id: int) -> None:
        """Remember the message that shows an assignment's card: it is on screen now."""
        await self.write(
            "UPDATE assignments SET message_id = ? WHERE id = ?", (message_id, assignment_id)
        )

    async def release(self, assignment_id: int, user_id: int, now: float | None = None) -> None:
        """Give an open card back to the pool (its worker cannot get it: blocked the bot)."""
        await self.write(
            "UPDATE assignments SET status = 'released', closed_at = ?"
            " WHERE id = ? AND worker_id = ? AND status = 'open'",
            (time.time() if now is None else now, assignment_id, user_id),
        )

    async def undelivered(self, shown_before: float) -> list[tuple[int, int, int]]:
        """Open cards claimed before `shown_before` whose message was never delivered:
        (worker, project, assignment), oldest first."""
        rows = await self._all(
            "SELECT worker_id, project_id, id FROM assignments"
            " WHERE status = 'open' AND message_id IS NULL AND shown_at < ? ORDER BY id",
            (shown_before,),
        )
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    async def is_idle(self, user_id: int, project_id: int) -> bool:
        """Whether the worker was told there is nothing left for them in the project."""
        row = await self._one(
            "SELECT idle_since FROM memberships WHERE worker_id = ? AND project_id = ?",
            (user_id, project_id),
        )
        return row is not None and row[0] is not None

    async def undo_last(
        self,
        user_id: int,
        project_id: int,
        now: float | None = None,
        *,
        update_id: int | None = None,
    ) -> UndoOutcome:
        """Take back the worker's last live label while its sample still wants labels.

        The card the worker holds now goes back to the pool; the undone sample is reopened.
        With `update_id`, a replay of the same /undo takes back nothing more: it answers
        what the first one did, with the reopened card if it is still open.
        """
        now = time.time() if now is None else now
        project = await self.get_project(project_id)
        superseded: tuple[int, ...] = ()
        async with self.transaction() as db:
            done = await once(db, update_id, "undo")
            if done is not None:  # a replay: the messages to retire too, if the first died
                status = UndoStatus(done["status"])
                superseded = tuple(done.get("superseded", ()))
            else:
                status, superseded = await _undo(db, user_id, project, now)
                result = {"status": status.value, "superseded": list(superseded)}
                await remember(db, update_id, "undo", result, now)
        if status is not UndoStatus.UNDONE:
            return UndoOutcome(status=status)
        card = await self.open_card_of(user_id, project_id)
        return UndoOutcome(status=status, card=card, superseded=superseded)

    async def mark_idle(self, user_id: int, project_id: int, now: float | None = None) -> None:
        """Remember that the worker was told there is nothing left for them."""
        async with self._lock:
            await self.db.execute(
                "UPDATE memberships SET idle_since = ? WHERE worker_id = ? AND project_id = ?",
                (time.time() if now is None else now, user_id, project_id),
            )

    async def take_idle_with_work(self) -> list[tuple[int, int]]:
        """Idle (worker, project) pairs that have work again; they are no longer idle after."""
        async with self._lock:
            rows = await self.db.execute_fetchall(IDLE_WITH_WORK_SQL)
            pairs = [(int(r[0]), int(r[1])) for r in rows]
            await self.db.executemany(
                "UPDATE memberships SET idle_since = NULL WHERE worker_id = ? AND project_id = ?",
                pairs,
            )
        return pairs

    async def expire_due(self, now: float | None = None) -> int:
        """Return timed-out assignments to the pool; the number returned."""
        async with self.transaction() as db:
            return await _expire(db, time.time() if now is None else now)

    # ---------------------------------------------------------------- reporting

    async def worker_stats(self, user_id: int, now: float | None = None) -> WorkerStats:
        """The worker's own counts across projects."""
        now = time.time() if now is None else now
        row = await self._one(
            "SELECT"
            " (SELECT COUNT(*) FROM labels WHERE worker_id = ?1 AND retracted_at IS NULL),"
            " (SELECT COUNT(*) FROM labels WHERE worker_id = ?1 AND retracted_at IS NULL"
            "   AND answered_at >= ?2),"
            " (SELECT COUNT(*) FROM assignments WHERE worker_id = ?1 AND status = 'skipped'),"
            " (SELECT COUNT(*) FROM assignments WHERE worker_id = ?1 AND status = 'reported'),"
            " (SELECT COUNT(*) FROM memberships WHERE worker_id = ?1)",
            (user_id, now - now % _DAY),
        )
        assert row is not None
        return WorkerStats(
            labels=row[0], labels_today=row[1], skipped=row[2], reported=row[3], projects=row[4]
        )

    async def sample_counts(self, project_id: int) -> SampleCounts:
        """How many of the project's samples are in each state (`SAMPLE_STATES`)."""
        return sample_counts_of(await self._one(SAMPLE_STATES, (project_id,)))

    async def project_status(self, project_id: int, now: float | None = None) -> ProjectStatus:
        """Progress of one project (its samples' states as `SAMPLE_STATES` defines them)."""
        now = time.time() if now is None else now
        project = await self.get_project(project_id)
        states = await self.sample_counts(project_id)
        row = await self._one(
            "SELECT"
            " (SELECT COUNT(*) FROM labels WHERE project_id = ?1 AND retracted_at IS NULL),"
            " (SELECT COUNT(*) FROM assignments WHERE project_id = ?1 AND status = 'open'),"
            " (SELECT COUNT(*) FROM memberships WHERE project_id = ?1),"
            " (SELECT COUNT(DISTINCT worker_id) FROM labels WHERE project_id = ?1"
            "   AND answered_at >= ?2),"
            " (SELECT COUNT(*) FROM reports WHERE project_id = ?1)",
            (project_id, now - _DAY),
        )
        assert row is not None
        return ProjectStatus(
            project=project,
            samples=states.work + states.control,
            samples_done=states.done,
            states=states,
            labels=row[0],
            open_assignments=row[1],
            members=row[2],
            active_workers=row[3],
            reports=row[4],
        )

    async def live_labels(self, project_id: int) -> list[LabelRow]:
        """Every live label of a project, for aggregation."""
        rows = await self._all(
            "SELECT l.worker_id, l.sample_id, o.key FROM labels l"
            " JOIN options o ON o.id = l.option_id"
            " WHERE l.project_id = ? AND l.retracted_at IS NULL",
            (project_id,),
        )
        return [LabelRow(worker_id=r[0], sample_id=r[1], option_key=r[2]) for r in rows]

    async def truths(self, project_id: int) -> dict[int, str]:
        """Known answers by sample id."""
        rows = await self._all(
            "SELECT id, truth FROM samples WHERE project_id = ? AND truth IS NOT NULL",
            (project_id,),
        )
        return {int(r[0]): str(r[1]) for r in rows}

    async def events(
        self, project_id: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The newest audit events, newest first."""
        sql = "SELECT id, at, actor, project_id, kind, data FROM events"
        params: list[Any] = []
        if project_id is not None:
            sql += " WHERE project_id = ?"
            params.append(project_id)
        rows = await self._all(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
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


async def _undo(
    db: aiosqlite.Connection, user_id: int, project: Project, now: float
) -> tuple[UndoStatus, tuple[int, ...]]:
    """Retract the worker's last live label and reopen its card: (status, the messages of
    the card that was open and is now released, and of the answered card, reopened)."""
    async with db.execute(
        "SELECT l.id, l.assignment_id, s.n_labels, s.target, a.message_id FROM labels l"
        " JOIN samples s ON s.id = l.sample_id JOIN assignments a ON a.id = l.assignment_id"
        " WHERE l.worker_id = ? AND l.project_id = ? AND l.retracted_at IS NULL"
        " ORDER BY l.answered_at DESC, l.id DESC LIMIT 1",
        (user_id, project.id),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return UndoStatus.NOTHING, ()
    label_id, assignment_id, n_labels, target, answered_message = row
    if n_labels >= target:
        return UndoStatus.TOO_LATE, ()
    async with db.execute(
        "UPDATE assignments SET status = 'released', closed_at = ?"
        " WHERE worker_id = ? AND project_id = ? AND status = 'open' RETURNING message_id",
        (now, user_id, project.id),
    ) as cur:
        released = await cur.fetchone()
    await db.execute("UPDATE labels SET retracted_at = ? WHERE id = ?", (now, label_id))
    # message_id NULL: the reopened card is not on screen until it is sent again (after a
    # crash right here, the pending-card job sends it).
    await db.execute(
        "UPDATE assignments SET status = 'open', closed_at = NULL, shown_at = ?,"
        " expires_at = ?, message_id = NULL WHERE id = ?",
        (now, now + project.assignment_timeout, assignment_id),
    )
    data = {"assignment": assignment_id, "label": label_id}
    await _event(db, "label.undone", user_id, project.id, data, now)
    messages = (released[0] if released else None, answered_message)
    return UndoStatus.UNDONE, tuple(m for m in messages if m is not None)


def _slug_taken(slug: str) -> str:
    return f"a project with slug '{slug}' already exists; set another 'slug'"


async def _insert_project(
    db: aiosqlite.Connection,
    spec: ProjectSpec,
    actor: int | None,
    now: float,
    *,
    project_id: int | None = None,
) -> int:
    """Insert a project and its options inside the caller's transaction; return its id.

    project_id: the id a `project_draft` promised (None: the next free one).
    """
    try:
        cur = await db.execute(
            "INSERT INTO projects (id, slug, name, question, guide, overlap,"
            " assignment_timeout, spec, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                project_id,
                spec.slug,
                spec.name,
                json.dumps(spec.question, ensure_ascii=False),
                json.dumps(spec.guide, ensure_ascii=False),
                spec.overlap,
                spec.assignment_timeout,
                spec.model_dump_json(),
                now,
            ),
        )
    except sqlite3.IntegrityError as exc:
        taken = await db.execute_fetchall("SELECT 1 FROM projects WHERE slug = ?", (spec.slug,))
        if taken:
            raise Conflict(_slug_taken(spec.slug)) from exc
        raise Conflict(
            f"another project took id {project_id} while '{spec.slug}' was being created;"
            " nothing was stored, run the command again"
        ) from exc
    new_id = cur.lastrowid
    assert new_id is not None
    await db.executemany(
        "INSERT INTO options (project_id, idx, key, texts) VALUES (?, ?, ?, ?)",
        [
            (new_id, i, o.id, json.dumps(o.text, ensure_ascii=False))
            for i, o in enumerate(spec.options)
        ],
    )
    await _event(db, "project.created", actor, new_id, {"slug": spec.slug}, now)
    return new_id


async def _roll_back(db: aiosqlite.Connection) -> None:
    """End a failed or cancelled transaction. The ROLLBACK is queued behind the BEGIN on the
    connection's thread, so it also ends a transaction whose BEGIN was still on its way when
    the task was cancelled (which left the shared connection inside it for the next write);
    when the BEGIN itself failed there is nothing to roll back."""
    with contextlib.suppress(sqlite3.OperationalError):
        await db.execute("ROLLBACK")


async def _insert_samples(db: aiosqlite.Connection, batch: list[tuple[Any, ...]]) -> int:
    before = db.total_changes
    await db.executemany(
        "INSERT INTO samples (project_id, ext_id, kind, text, media, truth, target, need,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (project_id, ext_id) DO NOTHING",
        batch,
    )
    return db.total_changes - before


async def _expire(db: aiosqlite.Connection, now: float) -> int:
    cur = await db.execute(
        "UPDATE assignments SET status = 'expired', closed_at = ?"
        " WHERE status = 'open' AND expires_at <= ?",
        (now, now),
    )
    count = cur.rowcount
    if count > 0:
        await _event(db, "assignments.expired", None, None, {"count": count}, now)
    return count


async def _event(
    db: aiosqlite.Connection,
    kind: str,
    actor: int | None,
    project_id: int | None,
    data: dict[str, Any] | None,
    now: float | None,
) -> None:
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


def _key_hashes(keys: Iterable[str | None]) -> npt.NDArray[np.uint64]:
    """64-bit in-process hashes of content keys (None hashes to 0 and is never looked up)."""
    out: npt.NDArray[np.uint64] = np.fromiter(
        (0 if k is None else hash(k) & _U64 for k in keys), dtype=np.uint64
    )
    return out


_U64 = (1 << 64) - 1


STAGE_ABANDONED_AFTER = 3600.0  # seconds untouched: a staged import written by nobody now


def _remove_abandoned_stages(db_path: Path) -> None:
    """Delete scratch files of imports that crashed (a running import keeps writing its own)."""
    cutoff = time.time() - STAGE_ABANDONED_AFTER
    for leftover in db_path.parent.glob(f"{db_path.name}.import-*.tmp"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass  # another process removed it, or it is not ours to remove


_STAGED_COLUMNS = (
    "ext_id TEXT NOT NULL, kind TEXT NOT NULL, text TEXT, media TEXT, truth TEXT,"
    " target INTEGER NOT NULL, need INTEGER NOT NULL, created_at REAL NOT NULL,"
    " content_key TEXT, meta TEXT, gold INTEGER NOT NULL"
)


class ImportSession:
    """Stages batches of samples for one import (see `Repository.import_session`)."""

    def __init__(
        self,
        stage: aiosqlite.Connection,
        project: Project,
        keys: frozenset[str],
        ids: KeySet,
        *,
        gold: bool = False,
        existing: KeySet | None = None,
        creating: ProjectSpec | None = None,
    ) -> None:
        # stage: the scratch database whose `staged` table the batches go to.
        # ids: hashes (`_key_hashes`) of the sample ids already in the project.
        # gold: samples with a known answer become control tasks (served by the gold rate,
        # outside the pick index: need 0).
        # existing: hashes of the content keys already in the project, or None for no content
        # checks (the project's exact-duplicate rule is off: only ids must be new).
        # Ids and keys are checked in memory as sorted 64-bit hashes (8 bytes each), not
        # through indexes: keeping a content-key index up to date cost more than half of a
        # large import. A hash collision (odds ~n²/2**64) would drop a row as a duplicate.
        # creating: the spec of a `Repository.project_draft`, stored when this is published.
        self._stage, self._project, self._keys, self._gold = stage, project, keys, gold
        self.creating = creating
        self._check_content = existing is not None
        self._existing = existing if existing is not None else KeySet()
        self._ids = ids
        self._added = KeySet()  # content keys staged by this import
        self._added_ids = KeySet()
        self.project_id = project.id
        self.import_id: int | None = None  # set once published
        self.rows_read = self.added = self.dropped = 0
        self.seconds = 0.0
        self.report: dict[str, Any] = {}

    async def add(self, batch: Sequence[NewSample]) -> list[str | None]:
        """Insert a batch; per sample None if added, else why not (a duplicate reason)."""
        if not batch:
            return []
        for s in batch:
            if not 0 < len(s.ext_id) <= MAX_EXT_ID:
                raise ValueError(f"sample id must be 1-{MAX_EXT_ID} characters: {s.ext_id[:40]!r}")
            if s.kind not in SAMPLE_KINDS:
                raise ValueError(f"sample {s.ext_id}: kind must be one of {SAMPLE_KINDS}")
            if s.truth is not None and s.truth not in self._keys:
                raise ValueError(
                    f"sample {s.ext_id}: truth '{s.truth}' is not an option "
                    f"({', '.join(sorted(self._keys))})"
                )
        hashes = _key_hashes(s.content_key for s in batch)
        id_hashes = _key_hashes(s.ext_id for s in batch)
        in_project = np.zeros(len(batch), dtype=bool)
        in_import = np.zeros(len(batch), dtype=bool)
        if self._check_content:
            in_project = self._existing.contains(hashes)
            in_import = self._added.contains(hashes)
        id_taken = self._ids.contains(id_hashes) | self._added_ids.contains(id_hashes)
        reasons: list[str | None] = []
        rows: list[tuple[Any, ...]] = []
        new_keys: set[int] = set()  # content hashes staged by this batch
        new_ids: set[int] = set()
        now = time.time()
        for i, s in enumerate(batch):
            key, id_key = int(hashes[i]), int(id_hashes[i])
            has_key = self._check_content and s.content_key is not None
            if has_key and in_project[i]:
                reasons.append("already_in_project")
            elif has_key and (in_import[i] or key in new_keys):
                reasons.append("duplicate")
            elif id_taken[i] or id_key in new_ids:
                reasons.append("id_exists")
            else:
                reasons.append(None)
                new_ids.add(id_key)
                if has_key:
                    new_keys.add(key)
                is_gold = self._gold and s.truth is not None
                rows.append(
                    (
                        s.ext_id,
                        s.kind,
                        s.text,
                        s.media,
                        s.truth,
                        self._project.overlap,
                        0 if is_gold else self._project.overlap,
                        now,
                        s.content_key,
                        json.dumps(s.meta, ensure_ascii=False) if s.meta else None,
                        int(is_gold),
                    )
                )
        if new_keys:
            self._added.add(np.fromiter(new_keys, dtype=np.uint64, count=len(new_keys)))
        if new_ids:
            self._added_ids.add(np.fromiter(new_ids, dtype=np.uint64, count=len(new_ids)))
        await self._stage.executemany(
            "INSERT INTO staged (ext_id, kind, text, media, truth, target, need, created_at,"
            " content_key, meta, gold) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        self.added += len(rows)
        return reasons


# The one definition of a sample's state, shared by /status, /check and `labelgram project
# list` (one row: done, open, review, control).
# - control: a gold sample, served to test workers; never work, whatever its labels.
# - review: a check found no confident answer at the most labels allowed; a reviewer decides.
# - done: a check found its answer, a reviewer decided it, or it has every label it asked for
#   (between checks; the next one may ask for more, as dynamic overlap does).
# - open: it still wants labels (cards out for it count as open).
SAMPLE_STATES = (
    "SELECT"
    " COALESCE(SUM(gold = 0 AND (status IN ('done', 'reviewed')"
    "   OR (status = 'open' AND n_labels >= target))), 0),"
    " COALESCE(SUM(gold = 0 AND status = 'open' AND n_labels < target), 0),"
    " COALESCE(SUM(gold = 0 AND status = 'review'), 0),"
    " COALESCE(SUM(gold = 1), 0)"
    " FROM samples WHERE project_id = ?"
)


def sample_counts_of(row: Sequence[Any] | None) -> SampleCounts:
    """`SAMPLE_STATES`'s row as a model."""
    done, open_, review, control = row if row else (0, 0, 0, 0)
    return SampleCounts(done=done, open=open_, review=review, control=control)
