"""The connection: one aiosqlite connection in WAL mode, the lock that serialises its writes,
the one transaction helper and the small read helpers every aggregate module uses.

Every write is one transaction behind an asyncio lock: the single connection is shared by
concurrent handlers, and without the lock one handler's statements could land inside
another's transaction. Reads take no lock: a statement outside BEGIN ... COMMIT reads the
last committed state (or, inside a transaction the caller holds, that transaction's).

The aggregate modules (projects, samples, workers, assignments, imports, ...) subclass
`Database` and use only what is public here; `storage.repository.Repository` puts them
together.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

import aiosqlite

from storage.errors import DatabaseUnavailable, StorageError
from storage.migrations import MIGRATIONS

Row = tuple[Any, ...]
Params = Sequence[Any] | dict[str, Any]

AUTOCHECKPOINT_PAGES = 20_000


# execute_fetchall is one trip to the connection's thread; execute + fetchone + close is
# three, and under load every trip waits its turn on the event loop.
async def fetch_one(db: aiosqlite.Connection, sql: str, params: Params = ()) -> Row | None:
    """The first row of a query on `db` (in or out of a transaction), or None."""
    rows = await db.execute_fetchall(sql, params)
    for row in rows:
        return tuple(row)
    return None


async def fetch_all(db: aiosqlite.Connection, sql: str, params: Params = ()) -> list[Row]:
    """Every row of a query on `db` (in or out of a transaction)."""
    return [tuple(r) for r in await db.execute_fetchall(sql, params)]


async def roll_back(db: aiosqlite.Connection) -> None:
    """End a failed or cancelled transaction.

    The ROLLBACK is queued behind the BEGIN on the connection's thread, so it also ends a
    transaction whose BEGIN was still on its way when the task was cancelled (which left the
    shared connection inside it for the next write); when the BEGIN itself failed there is
    nothing to roll back.
    """
    with contextlib.suppress(sqlite3.OperationalError):
        await db.execute("ROLLBACK")


@asynccontextmanager
async def atomic(db: aiosqlite.Connection) -> AsyncIterator[aiosqlite.Connection]:
    """BEGIN IMMEDIATE ... COMMIT on `db`, rolled back if the block raises or is cancelled.

    The caller holds the lock (`Database.locked`); `Database.transaction` is the lock and
    this together, which is what almost every write wants.
    """
    try:
        # Inside the try: a cancellation while the BEGIN is on its way must still roll back.
        await db.execute("BEGIN IMMEDIATE")
        yield db
    except BaseException:
        await roll_back(db)
        raise
    await db.execute("COMMIT")


class Database:
    """The open connection, its write lock and helpers; the base of every aggregate class."""

    def __init__(self, path: Path | str) -> None:
        """A database at `path` (":memory:" for a private one), not opened yet."""
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
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
            await self._db.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
            await self._migrate()
            if self.path != Path(":memory:"):
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

        Runs on its own connection and thread and takes no lock: a PASSIVE checkpoint never
        waits for, nor stops, the writes of labeling.
        """
        if self._checkpointer is None:
            return (0, 0)
        rows = await self._checkpointer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        row = next(iter(rows), (0, 0, 0))
        return int(row[1]), int(row[2])

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def is_open(self) -> bool:
        """Whether `open` succeeded and `close` was not called since."""
        return self._db is not None

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

    async def schema_version(self) -> int:
        """The applied migration number."""
        row = await self.one("PRAGMA user_version")
        return int(row[0]) if row else 0

    # ---------------------------------------------------------------- reading and writing

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection, with the write lock held: for statements that are atomic by
        themselves (autocommit), or several steps of which one is an `atomic` block."""
        async with self._lock:
            yield self.db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One atomic write: everything inside lands, or nothing does."""
        async with self.locked() as db, atomic(db):
            yield db

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None (no lock: see the module's docstring)."""
        return await fetch_one(self.db, sql, params)

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query (no lock)."""
        return await fetch_all(self.db, sql, params)

    async def write(self, sql: str, params: Params = ()) -> int:
        """One statement that changes rows, atomic by itself (no BEGIN/COMMIT round trips);
        the number of rows it changed."""
        async with self.locked() as db:
            cursor = await db.execute(sql, params)
            count = cursor.rowcount
            await cursor.close()
            return int(count)
