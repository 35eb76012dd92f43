"""Imports: samples come in through a scratch database and are published in one transaction.

A file import reads, cleans and checks its rows for duplicates (`intake/`) in batches, stages
them in a scratch SQLite file of its own and publishes them at the end: all of them, or none.
The duplicate checks run in memory on 64-bit hashes (`intake.dedup.KeySet`).
"""

from __future__ import annotations

import asyncio
import json
import os
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
from storage.db import atomic
from storage.errors import StorageError
from storage.events import append_event
from storage.models import MAX_EXT_ID, SAMPLE_KINDS, ImportSummary, NewSample, Project, SampleIn
from storage.projects import Projects, insert_project

STAGE_ABANDONED_AFTER = 3600.0  # seconds untouched: a staged import written by nobody now

_STAGED_COLUMNS = (
    "ext_id TEXT NOT NULL, kind TEXT NOT NULL, text TEXT, media TEXT, truth TEXT,"
    " target INTEGER NOT NULL, need INTEGER NOT NULL, created_at REAL NOT NULL,"
    " content_key TEXT, meta TEXT, gold INTEGER NOT NULL"
)
_U64 = (1 << 64) - 1


class Imports(Projects):
    """Adding samples to a project: the plain loader and the staged, all-or-nothing import."""

    def __init__(self, path: Path | str) -> None:
        """See `Database`."""
        super().__init__(path)
        self._import_lock = asyncio.Lock()  # one import at a time (see import_session)

    async def open(self) -> None:
        """Open the database (`Database.open`), then delete crashed imports' scratch files."""
        await super().open()
        if self.path != Path(":memory:"):
            remove_abandoned_stages(self.path)

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
            data = {"added": added, "present": seen}
            await append_event(db, "samples.imported", actor, project_id, data, now)
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
        creating = await self.draft_spec(project_id)
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
                self.locked() as db,
                db.execute(
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
        project_id = session.project_id
        async with self.locked() as db:
            # ATTACH cannot run inside a transaction: it comes first, under the same lock.
            await db.execute("ATTACH DATABASE ? AS stage", (str(stage_path),))
            try:
                async with atomic(db):
                    now = time.time()
                    if session.creating is not None:
                        await insert_project(
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
                    await append_event(
                        db,
                        "samples.imported",
                        actor,
                        project_id,
                        {"import": import_id, "added": session.added, "source": source},
                        now,
                    )
                session.import_id = import_id
            finally:
                await db.execute("DETACH DATABASE stage")

    async def imports(self, project_id: int, limit: int = 5) -> list[ImportSummary]:
        """The newest import reports of a project."""
        rows = await self.all(
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


async def _insert_samples(db: aiosqlite.Connection, batch: list[tuple[Any, ...]]) -> int:
    before = db.total_changes
    await db.executemany(
        "INSERT INTO samples (project_id, ext_id, kind, text, media, truth, target, need,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (project_id, ext_id) DO NOTHING",
        batch,
    )
    return db.total_changes - before


def _key_hashes(keys: Iterable[str | None]) -> npt.NDArray[np.uint64]:
    """64-bit in-process hashes of content keys (None hashes to 0 and is never looked up)."""
    out: npt.NDArray[np.uint64] = np.fromiter(
        (0 if k is None else hash(k) & _U64 for k in keys), dtype=np.uint64
    )
    return out


def remove_abandoned_stages(db_path: Path) -> None:
    """Delete scratch files of imports that crashed (a running import keeps writing its own)."""
    cutoff = time.time() - STAGE_ABANDONED_AFTER
    for leftover in db_path.parent.glob(f"{db_path.name}.import-*.tmp"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass  # another process removed it, or it is not ours to remove


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
