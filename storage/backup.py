"""Backups while the bot runs, their checks, and restoring one.

A backup is SQLite's online backup API in one step (`Connection.backup` with every page at
once) from a read-only connection: one read transaction, so the copy is one consistent state
even while labeling writes (WAL: readers never wait for the writer, nor it for them). A backup
taken in many small steps would start over each time anything writes, which during labeling
is always. The copy is written next to its destination, checked (`PRAGMA integrity_check`
and the counters the triggers keep), and only then renamed into place: a backup that exists
is a good one.

Restoring refuses while the bot runs on the database (and the database itself as the backup),
copies the backup next to the database and checks the copy the same way; only then is the
database it replaces moved aside (with its WAL folded in, or kept beside it as it is if the
database cannot be read) and the copy put in place with one rename. A restore that fails
leaves the database where and as it was.

sqlite3 only (no aiosqlite): the bot runs these in a thread, the command line directly.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from storage.errors import StorageError
from storage.migrations import MIGRATIONS

BACKUP_GLOB = "labelgram-*.db"
# A bot whose last heartbeat is this recent is taken to be running (it beats every 5 s).
_ALIVE_S = 30.0

# Rows the triggers keep in step: a sample's counters must match its labels and cards.
# (Grouped once each, not a subquery per sample: linear in the labels, not quadratic.)
COUNTER_ERRORS_SQL = """
SELECT COUNT(*) FROM samples AS s
LEFT JOIN (SELECT project_id, sample_id, COUNT(*) AS n FROM labels
           WHERE retracted_at IS NULL GROUP BY project_id, sample_id) AS l
       ON l.project_id = s.project_id AND l.sample_id = s.id
LEFT JOIN (SELECT sample_id, COUNT(*) AS n FROM assignments
           WHERE status = 'open' GROUP BY sample_id) AS a
       ON a.sample_id = s.id
WHERE s.n_labels != COALESCE(l.n, 0) OR s.n_open != COALESCE(a.n, 0)
   OR s.need != s.target - s.n_labels - s.n_open
"""
# A worker holds at most one live label per sample.
DUPLICATE_LABELS_SQL = """
SELECT COUNT(*) FROM (SELECT 1 FROM labels WHERE retracted_at IS NULL
                      GROUP BY worker_id, sample_id HAVING COUNT(*) > 1)
"""


class BackupError(StorageError):
    """A backup or a restore could not be made; the message says what to do."""


@dataclass(frozen=True)
class BackupResult:
    """A backup that was written and checked."""

    path: Path
    size: int  # bytes
    seconds: float


def problems(path: Path | str) -> list[str]:
    """What is wrong with a Labelgram database (an empty list: nothing). Reads only."""
    path = Path(path)
    if not path.is_file():
        return [f"{path} does not exist"]
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [f"{path} cannot be opened: {exc}"]
    try:
        found = [
            f"integrity: {row[0]}"
            for row in db.execute("PRAGMA integrity_check")
            if row[0] != "ok"
        ]
        if found:
            return found
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version == 0 or version > len(MIGRATIONS):
            return [f"schema version {version}: not a database of this Labelgram"]
        keys = db.execute("PRAGMA foreign_key_check").fetchall()
        if keys:
            found.append(f"{len(keys)} rows point at rows that do not exist")
        counters = int(db.execute(COUNTER_ERRORS_SQL).fetchone()[0])
        if counters:
            found.append(f"{counters} samples whose counters disagree with their labels")
        duplicates = int(db.execute(DUPLICATE_LABELS_SQL).fetchone()[0])
        if duplicates:
            found.append(f"{duplicates} samples with two live labels from one worker")
        return found
    except sqlite3.Error as exc:
        return [f"{path} cannot be read: {exc}"]
    finally:
        db.close()


def backup_path(dest: Path | str, now: float | None = None) -> Path:
    """Where a backup to `dest` goes: `dest` itself, or a dated file in it if it is a
    folder (or a string ending with a slash: a folder to make)."""
    folder = str(dest).endswith(("/", os.sep))
    dest = Path(dest)
    if folder or dest.is_dir():
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        return dest / f"labelgram-{stamp}.db"
    return dest


def backup(db_path: Path | str, dest: Path | str) -> BackupResult:
    """Copy the database at `db_path` (live or not) to `dest` (a file, or a folder for a dated
    file), checked; BackupError if it cannot be made (nothing is left behind then)."""
    source = Path(db_path)
    if not source.is_file():
        raise BackupError(f"no database at {source}; check LABELGRAM_DB_PATH or --db")
    target = backup_path(dest)
    if target.resolve() == source.resolve():
        raise BackupError(f"{target} is the database itself; give another path")
    partial = _partial(target)
    started = time.perf_counter()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy(source, partial)
        found = problems(partial)
        if found:
            raise BackupError(f"the copy of {source} failed its check: {'; '.join(found)}")
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {source} to {target}: {exc}") from exc
    except OSError as exc:
        raise BackupError(
            f"cannot write {target}: {exc}; give a path in a folder you can write"
        ) from exc
    finally:
        _remove(partial)
    return BackupResult(target, target.stat().st_size, time.perf_counter() - started)


def prune_backups(folder: Path | str, keep: int) -> list[Path]:
    """Delete all but the newest `keep` dated backups in `folder`; the ones deleted."""
    dated = sorted(Path(folder).glob(BACKUP_GLOB))
    old = dated[: max(0, len(dated) - keep)]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def bot_running(db_path: Path | str, now: float | None = None) -> bool:
    """Whether a bot seems to run on this database now (its heartbeat is recent)."""
    path = Path(db_path)
    if not path.is_file():
        return False
    now = time.time() if now is None else now
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as db:
            row = db.execute(
                "SELECT alive_at, stopped_at FROM runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
    except sqlite3.Error:
        return False  # no runs table: no bot ever ran on it
    return row is not None and row[1] is None and now - row[0] < _ALIVE_S


def restore(backup_file: Path | str, db_path: Path | str, *, force: bool = False) -> Path | None:
    """Put a checked backup in place of the database; the path the replaced database was
    moved to (None if there was none). Refuses while a bot runs on it (unless `force`: the
    caller knows it is not running, e.g. its heartbeat went stale in a crash just now).

    The backup is copied and checked next to the database before anything moves; any
    BackupError leaves the database where and as it was."""
    source, target = Path(backup_file), Path(db_path)
    if target.exists() and source.exists() and os.path.samefile(source, target):
        raise BackupError(
            f"{source} is the database itself; give a backup file (`labelgram backup DIR/`"
            " makes one)"
        )
    found = problems(source)
    if found:
        raise BackupError(f"{source} is not a good backup: {'; '.join(found)}")
    if not force and bot_running(target):
        raise BackupError(
            f"a bot is running on {target} (its heartbeat is recent): stop it first, then restore"
        )
    partial = _partial(target)
    unchanged = "the database was not changed"
    try:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy(source, partial)
        except (sqlite3.Error, OSError) as exc:
            raise BackupError(
                f"cannot copy {source} to {partial}: {exc}; {unchanged}: make room or allow"
                f" writing in {target.parent}, then restore again"
            ) from exc
        found = problems(partial)
        if found:
            raise BackupError(
                f"the copy of {source} failed its check: {'; '.join(found)}; {unchanged}:"
                " restore another backup"
            )
        kept = _move_aside(target) if target.exists() else None
        try:
            os.replace(partial, target)
        except OSError as exc:
            if kept is not None:
                _move_back(kept, target)
            raise BackupError(
                f"cannot put the backup in place of {target}: {exc}; {unchanged}: allow"
                f" writing in {target.parent}, then restore again"
            ) from exc
    finally:
        _remove(partial)
    return kept


def _partial(target: Path) -> Path:
    """Where a copy for `target` is written and checked before it is renamed into place."""
    return target.with_name(f".{target.name}.partial")


def _copy(source: Path, dest: Path) -> None:
    """Copy the database at `source` to `dest` as one file (no WAL beside it)."""
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        with contextlib.closing(sqlite3.connect(dest)) as dst:
            src.backup(dst)  # every page in one step: one read transaction
            dst.execute("PRAGMA journal_mode = DELETE")
    finally:
        src.close()


def _move_aside(target: Path) -> Path:
    """Move the database (and what its WAL still holds) to a dated name beside it; that
    name. BackupError, with everything where it was, if it cannot be moved."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = target.with_name(f"{target.stem}.before-restore-{stamp}{target.suffix}")
    n = 1
    while kept.exists():  # a second restore within the second keeps the first's file
        n += 1
        kept = target.with_name(f"{target.stem}.before-restore-{stamp}-{n}{target.suffix}")
    # Fold the WAL in first, so the file kept is the whole database. A database that cannot
    # be read (corrupt) is kept as it is, with its WAL beside it.
    with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(target)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = Path(f"{target}-wal")
    try:
        os.replace(target, kept)
        if wal.is_file() and wal.stat().st_size > 0:
            os.replace(wal, f"{kept}-wal")
        # Left beside the backup, the old WAL and index would be read as the backup's own.
        wal.unlink(missing_ok=True)
        Path(f"{target}-shm").unlink(missing_ok=True)
    except OSError as exc:
        if kept.exists():
            _move_back(kept, target)
        raise BackupError(
            f"cannot move {target} aside: {exc}; the database was not changed: allow"
            f" writing in {target.parent}, then restore again"
        ) from exc
    return kept


def _move_back(kept: Path, target: Path) -> None:
    """Undo `_move_aside` (best effort: the error being raised says what failed)."""
    with contextlib.suppress(OSError):
        if Path(f"{kept}-wal").exists():
            os.replace(f"{kept}-wal", f"{target}-wal")
        os.replace(kept, target)


def _remove(partial: Path) -> None:
    """Delete a partial copy (if it was made: one that cannot be, e.g. in a file taken for a
    folder, must not hide the error that says why)."""
    with contextlib.suppress(OSError):
        partial.unlink()
