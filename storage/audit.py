"""Reading the audit log: events with the names of the people in them, streamed.

The events table is written in the transaction of what each event records (`storage.events`);
this is its read side, for `labelgram audit` and the bot's /audit. It runs on a read-only
sqlite3 connection of its own (one read transaction: a consistent view while the bot writes)
and yields rows one by one, so a log of millions of labels is read in flat memory.

Each event also carries the people's pseudonyms in its project, the ones the project's exports
give them (`storage.export.pseudonym`, and a forgotten worker's kept one), so the log can be
exported without naming anyone. An event outside any project, or of a deleted project (its
secret went with it), has none.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.errors import DatabaseUnavailable
from storage.export import pseudonym

_CACHE = 10_000  # names kept at once while reading

# Keys of an event's data that hold a Telegram user id: shown with the person's name.
PERSON_KEYS = ("worker", "reviewer", "by")


@dataclass(frozen=True)
class Person:
    """Someone named in an event, as the bot knows them now."""

    id: int
    name: str
    username: str | None

    def label(self) -> str:
        """'Alice (@alice, 1001)', 'Alice (1001)', or the bare id for an unknown person."""
        if not self.name and not self.username:
            return str(self.id)
        handle = f"@{self.username}, " if self.username else ""
        return f"{self.name or '?'} ({handle}{self.id})"


@dataclass(frozen=True)
class AuditEvent:
    """One event of the log."""

    id: int
    at: float
    kind: str
    project: str | None  # the project's slug
    actor: Person | None  # None: the bot itself (a scheduled job, a trigger)
    data: dict[str, Any]
    people: dict[int, Person]  # everyone the data names, by id
    names: dict[str, str]  # the data's sample and option ids as the project names them
    # The actor's and the people's pseudonyms in the event's project, by id (as its exports
    # name them); nobody's outside a project or in a deleted one.
    pseudonyms: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditQuery:
    """Which events: all of a project (or of every project), filtered."""

    project_id: int | None = None
    since: float | None = None
    worker: int | None = None  # the actor, or the person the event is about
    kind: str | None = None  # a kind ("label.recorded") or its family ("label")
    limit: int | None = None
    newest_first: bool = False


def read_events(path: Path | str, query: AuditQuery) -> Iterator[AuditEvent]:
    """The events `query` asks for, oldest first unless `newest_first` (blocking: run it in a
    thread from the bot). DatabaseUnavailable, saying what to do, if `path` is not a readable
    Labelgram database."""
    where, params = _where(query)
    order = "DESC" if query.newest_first else "ASC"
    sql = (
        "SELECT e.id, e.at, e.kind, p.slug, e.actor, e.data, p.id FROM events AS e"
        " LEFT JOIN projects AS p ON p.id = e.project_id"
        f"{where} ORDER BY e.id {order}"
    )
    if query.limit is not None:
        sql += " LIMIT ?"
        params.append(query.limit)
    with _reading(path) as db:
        db.execute("BEGIN")  # one snapshot for the whole read
        people = _People(db)
        names = _Names(db)
        masks = _Pseudonyms(db)
        for event_id, at, kind, slug, actor, data, project_id in db.execute(sql, params):
            values = json.loads(data) if data else {}
            named = {
                int(v): people.get(int(v))
                for k, v in values.items()
                if k in PERSON_KEYS and isinstance(v, int)
            }
            ids = {
                k: names.get(k, int(v))
                for k, v in values.items()
                if k in _NAMED and isinstance(v, int)
            }
            everyone = [*named, *([] if actor is None else [int(actor)])]
            masked = {} if project_id is None else masks.get(int(project_id), everyone)
            yield AuditEvent(
                id=int(event_id),
                at=float(at),
                kind=str(kind),
                project=slug,
                actor=None if actor is None else people.get(int(actor)),
                data=values,
                people=named,
                names={k: v for k, v in ids.items() if v is not None},
                pseudonyms=masked,
            )


@contextlib.contextmanager
def _reading(path: Path | str) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the database at `path`; what SQLite says of a missing file
    or one that is not a database becomes DatabaseUnavailable with what to do."""
    path = Path(path)
    if not path.is_file():
        raise DatabaseUnavailable(f"no database at {path}; give --db or LABELGRAM_DB_PATH")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise DatabaseUnavailable(_unreadable(path, exc)) from exc
    try:
        yield db
    except sqlite3.DatabaseError as exc:  # what a file that is no database says when read
        raise DatabaseUnavailable(_unreadable(path, exc)) from exc
    finally:
        db.close()


def _unreadable(path: Path, exc: sqlite3.Error) -> str:
    return (
        f"cannot read the audit log of {path} ({exc}); give --db or LABELGRAM_DB_PATH the"
        " Labelgram database file"
    )


def _where(query: AuditQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query.project_id is not None:
        clauses.append("e.project_id = ?")
        params.append(query.project_id)
    if query.since is not None:
        clauses.append("e.at >= ?")
        params.append(query.since)
    if query.worker is not None:
        clauses.append(
            "(e.actor = ? OR json_extract(e.data, '$.worker') = ?"
            " OR json_extract(e.data, '$.reviewer') = ?)"
        )
        params += [query.worker] * 3
    if query.kind:
        clauses.append("(e.kind = ? OR e.kind LIKE ? ESCAPE '\\')")
        family = query.kind.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params += [query.kind, f"{family}.%"]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class _People:
    """Workers by id, read once each."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.known: dict[int, Person] = {}

    def get(self, worker_id: int) -> Person:
        person = self.known.get(worker_id)
        if person is None:
            if len(self.known) >= _CACHE:
                self.known.clear()
            row = self.db.execute(
                "SELECT first_name, username FROM workers WHERE id = ?", (worker_id,)
            ).fetchone()
            name, username = row if row else ("", None)
            person = self.known[worker_id] = Person(worker_id, name or "", username)
        return person


_NAMED = {
    "sample": "SELECT ext_id FROM samples WHERE id = ?",
    "option": "SELECT key FROM options WHERE id = ?",
}


class _Names:
    """Samples' and options' own names (ext_id, option id) by row id, read once each."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.known: dict[tuple[str, int], str | None] = {}

    def get(self, key: str, row_id: int) -> str | None:
        if (key, row_id) not in self.known:
            if len(self.known) >= _CACHE:  # a long log names many samples: memory stays flat
                self.known.clear()
            row = self.db.execute(_NAMED[key], (row_id,)).fetchone()
            self.known[key, row_id] = None if row is None else str(row[0])
        return self.known[key, row_id]


def event_kinds(path: Path | str) -> list[str]:
    """The kinds of event the log holds (for a refusal that lists them)."""
    with _reading(path) as db:
        return [str(r[0]) for r in db.execute("SELECT DISTINCT kind FROM events ORDER BY kind")]


class _Pseudonyms:
    """People's pseudonyms per project, as its exports give them: the keyed hash of the
    Telegram id, or a forgotten worker's kept one (read once each)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.secrets: dict[int, bytes | None] = {}
        self.known: dict[tuple[int, int], str | None] = {}
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        self.has_secrets = "export_secrets" in tables
        self.has_erased = "erased_pseudonyms" in tables

    def get(self, project_id: int, people: list[int]) -> dict[int, str]:
        """Those of `people` who have a pseudonym in the project, by id."""
        found = {}
        for person in people:
            if (project_id, person) not in self.known:
                if len(self.known) >= _CACHE:
                    self.known.clear()
                self.known[project_id, person] = self._make(project_id, person)
            name = self.known[project_id, person]
            if name is not None:
                found[person] = name
        return found

    def _make(self, project_id: int, person: int) -> str | None:
        if person < 0:  # a forgotten worker: no Telegram id left, the kept pseudonym only
            if not self.has_erased:
                return None
            row = self.db.execute(
                "SELECT pseudonym FROM erased_pseudonyms WHERE worker_id = ? AND project_id = ?",
                (person, project_id),
            ).fetchone()
            return None if row is None else str(row[0])
        secret = self._secret(project_id)
        return None if secret is None else pseudonym(secret, person)

    def _secret(self, project_id: int) -> bytes | None:
        if project_id not in self.secrets:
            row = None
            if self.has_secrets:
                row = self.db.execute(
                    "SELECT secret FROM export_secrets WHERE project_id = ?", (project_id,)
                ).fetchone()
            self.secrets[project_id] = None if row is None else bytes(row[0])
        return self.secrets[project_id]
