"""The export's read path: one project as one consistent snapshot, streamed row by row.

Like `storage.snapshot` (the quality check's read path) this is plain sqlite3 on a read-only
connection of its own: one read transaction, so every file and figure of an export comes
from the same moment while labeling goes on (WAL: it never blocks a writer, and no writer
blocks it). Nothing is loaded whole: samples come off a cursor, each with its labels, reviews
and reports already rendered as JSON by SQLite (one indexed lookup each), so memory stays flat
at any size. Workers appear under a pseudonym: an HMAC of their Telegram id keyed with the
project's secret (migration 9), or, when asked for, the id itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from storage.snapshot import control_since, exam_size_of

STATUSES = ("done", "all")
_FETCH = 2_000  # rows per fetchmany: big enough to amortise, small enough to stay flat
# The streams walk their table in rowid (= id) order, NOT INDEXED: through the
# (project_id, ...) indexes SQLite would sort every row in a temporary b-tree before the
# first came out (memory growing with the project). Other projects' rows are skipped on the
# way, at the cost of a table scan.

# A sample's state as the export names it: the one definition of `storage.samples
# .SAMPLE_STATES` (control, in review, done, needs labels), spelled for readers; and
# excluded: a coordinator took it out after problem reports (`excluded_reason` says why).
_STATE = (
    "CASE WHEN s.held = 'excluded' THEN 'excluded' WHEN s.gold = 1 THEN 'control'"
    " WHEN s.status = 'review' THEN 'in_review'"
    " WHEN s.status IN ('done', 'reviewed') OR s.n_labels >= s.target THEN 'done'"
    " ELSE 'needs_labels' END"
)
_DONE = (
    " AND s.gold = 0 AND s.held IS NOT 'excluded' AND (s.status IN ('done', 'reviewed')"
    " OR (s.status = 'open' AND s.n_labels >= s.target))"
)
# How a sample's answer was decided: a gold answer, a reviewer's decision, an answer known
# from the data file (the check holds it fixed), or the check's consensus.
_DECIDED = (
    "CASE WHEN s.gold = 1 THEN 'gold' WHEN s.status = 'reviewed' THEN 'review'"
    " WHEN s.truth IS NOT NULL THEN 'known' WHEN s.consensus IS NOT NULL THEN 'consensus' END"
)
_ANSWER = (
    "CASE WHEN s.gold = 1 OR (s.status != 'reviewed' AND s.truth IS NOT NULL) THEN s.truth"
    " ELSE c.key END"
)
_ISO = "strftime('%Y-%m-%dT%H:%M:%fZ', {}, 'unixepoch')"
# JSON true/false: constants, so SQLite makes each once for the whole query, not per label.
_TRUE = "CASE WHEN {} THEN json('true') ELSE json('false') END"


def _iso(column: str) -> str:
    return _ISO.format(column)


def _flag(condition: str) -> str:
    return _TRUE.format(condition)


# One sample as one JSON object, its labels, reviews and reports aggregated by SQLite (in C,
# with an indexed lookup each): Python only writes the text out. Times are Unix seconds (UTC)
# as stored: formatting two dates per label as ISO text took a quarter of the query's time.
# The aggregates take their rows in index order, which for one sample is id order (an index
# entry ends in the rowid).
SAMPLE_JSON_SQL = (
    "SELECT s.id, s.kind, s.media, s.file_id, CAST(json_object("
    "'id', s.ext_id, 'kind', s.kind, 'text', s.text, 'media', s.media,"
    " 'meta', json(s.meta),"
    f" 'status', {_STATE}, 'excluded_reason', s.excluded_reason,"
    f" 'answer', {_ANSWER}, 'decided_by', {_DECIDED},"
    " 'method', CASE WHEN s.gold = 0 AND s.status != 'reviewed' AND s.truth IS NULL"
    "   AND s.consensus IS NOT NULL THEN :method END,"
    " 'confidence', CASE WHEN s.gold = 1 THEN 1.0 ELSE s.confidence END,"
    " 'n_labels', s.n_labels,"
    " 'labels', (SELECT json_group_array(json_object("
    "   'worker', w.name, 'option', o.key, 'option_text', o.text,"
    "   'shown_at', l.shown_at, 'answered_at', l.answered_at,"
    "   'seconds', round(l.answered_at - l.shown_at, 3), 'guide_version', l.guide_version,"
    f"  'retracted', {_flag('l.retracted_at IS NOT NULL')},"
    f"  'worker_suspended', {_flag('w.suspended')},"
    f"  'exam', {_flag('s.gold = 1 AND l.answered_at <= w.since')}))"
    "   FROM labels AS l JOIN x_options AS o ON o.id = l.option_id"
    "   JOIN x_workers AS w ON w.id = l.worker_id"
    "   WHERE l.project_id = :p AND l.sample_id = s.id),"
    # Reviews and reports are rare: looked up only where there are some (a decision makes
    # its sample 'reviewed' in the same transaction; the reported samples are listed once).
    " 'reviews', CASE WHEN s.status != 'reviewed' THEN json('[]') ELSE"
    "  (SELECT json_group_array(json_object("
    "   'reviewer', w.name, 'option', o.key, 'option_text', o.text,"
    "   'decided_at', r.decided_at))"
    "   FROM reviews AS r JOIN x_options AS o ON o.id = r.option_id"
    "   JOIN x_workers AS w ON w.id = r.reviewer_id WHERE r.sample_id = s.id) END,"
    " 'reports', CASE WHEN s.id NOT IN (SELECT sample_id FROM reports WHERE project_id = :p)"
    "  THEN json('[]') ELSE (SELECT json_group_array(json_object("
    "   'worker', w.name, 'reason', r.reason, 'at', r.created_at))"
    "   FROM reports AS r JOIN x_workers AS w ON w.id = r.worker_id"
    "   WHERE r.sample_id = s.id) END"
    # As bytes: the UTF-8 SQLite made goes to the file as it is, never decoded and encoded
    # again by Python (a gigabyte of text at a million samples).
    ") AS BLOB) FROM samples AS s NOT INDEXED LEFT JOIN x_options AS c ON c.id = s.consensus"
    " WHERE s.project_id = :p{done} ORDER BY s.id"
)

SAMPLE_ROW_SQL = (
    "SELECT s.id, s.file_id, s.ext_id, s.kind, s.text, s.media, "
    f"{_ANSWER}, CASE WHEN s.gold = 1 THEN 1.0 ELSE s.confidence END, s.n_labels, {_STATE},"
    f" {_DECIDED}, s.excluded_reason"
    " FROM samples AS s NOT INDEXED LEFT JOIN x_options AS c ON c.id = s.consensus"
    " WHERE s.project_id = :p{done} ORDER BY s.id"
)

# The labels the quality check aggregates (`storage.snapshot.read_labels` and
# `quality.check.run_check`): live, not exam answers, by workers not suspended; in label order.
CHECK_LABELS_SQL = (
    "SELECT w.name, s.ext_id, o.key, " + _iso("l.answered_at") + ","
    " round(l.answered_at - l.shown_at, 3), l.guide_version"
    " FROM labels AS l NOT INDEXED JOIN samples AS s ON s.id = l.sample_id"
    " JOIN x_options AS o ON o.id = l.option_id JOIN x_workers AS w ON w.id = l.worker_id"
    " WHERE l.project_id = :p AND l.retracted_at IS NULL AND NOT w.suspended"
    " AND NOT (s.gold = 1 AND l.answered_at <= w.since) ORDER BY l.id"
)
# The same labels as numbers, in sample order (the index's: no sort), for the card.
CHECK_ARRAYS_SQL = (
    "SELECT l.sample_id, l.worker_id, o.idx, s.gold FROM labels AS l"
    " INDEXED BY labels_project_sample"
    " JOIN samples AS s ON s.id = l.sample_id JOIN options AS o ON o.id = l.option_id"
    " JOIN x_workers AS w ON w.id = l.worker_id"
    " WHERE l.project_id = :p AND l.retracted_at IS NULL AND NOT w.suspended"
    " AND NOT (s.gold = 1 AND l.answered_at <= w.since) ORDER BY l.sample_id"
)
# The answers the check holds fixed: a reviewer's decision, else a gold or known answer.
KNOWN_SQL = (
    "SELECT s.ext_id, COALESCE((SELECT o.key FROM reviews AS r JOIN x_options AS o"
    "   ON o.id = r.option_id WHERE r.sample_id = s.id ORDER BY r.id DESC LIMIT 1), s.truth),"
    " CASE WHEN EXISTS (SELECT 1 FROM reviews WHERE sample_id = s.id) THEN 'review'"
    "   WHEN s.gold = 1 THEN 'gold' ELSE 'known' END"
    " FROM samples AS s NOT INDEXED WHERE s.project_id = :p"
    " AND (s.truth IS NOT NULL OR EXISTS (SELECT 1 FROM reviews WHERE sample_id = s.id))"
    " ORDER BY s.id"
)


class ExportError(Exception):
    """An export that cannot be made; the message says why and what to do."""


class UnknownProject(ExportError):
    """No project by that slug or id; `valid` lists the ones there are."""

    def __init__(self, wanted: str, valid: list[str]) -> None:
        """Name the project asked for and the valid ones."""
        listed = ", ".join(valid) if valid else "none yet: create one with `project create`"
        super().__init__(f"no project {wanted!r}; projects: {listed}")
        self.valid = valid


@dataclass(frozen=True)
class OptionRow:
    """A label option as stored: id, position, key and button texts."""

    id: int
    idx: int
    key: str
    texts: dict[str, str]

    @property
    def text(self) -> str:
        """The English text (else any): what a reader of the dataset sees."""
        return self.texts.get("en") or next(iter(self.texts.values()), self.key)


@dataclass(frozen=True)
class ProjectRow:
    """A project as stored, with its spec (the validated project file) as plain JSON."""

    id: int
    slug: str
    name: str
    question: dict[str, str]
    guide: dict[str, str]
    guide_version: int
    created_at: float
    spec: dict[str, Any]
    options: tuple[OptionRow, ...]


def pseudonym(secret: bytes, worker_id: int) -> str:
    """A worker's stable per-project name: 12 hex digits of HMAC-SHA256(secret, id)."""
    digest = hmac.new(secret, str(worker_id).encode(), hashlib.sha256).hexdigest()
    return f"w-{digest[:12]}"


class ExportSnapshot:
    """One project read in one read transaction; use as a context manager (blocking)."""

    def __init__(self, path: Path | str, project: str | int, *, worker_ids: bool = False) -> None:
        """The database at `path`, the project by slug or id; `worker_ids`: Telegram ids
        instead of pseudonyms."""
        self.path = Path(path)
        self.wanted = project
        self.worker_ids = worker_ids
        self._db: sqlite3.Connection | None = None
        self._project: ProjectRow | None = None
        self._tables: set[str] = set()

    def __enter__(self) -> Self:
        if not self.path.is_file():
            raise ExportError(f"no database at {self.path}; give --db or LABELGRAM_DB_PATH")
        # check_same_thread off: a stream may be read ahead in a thread of its own
        # (`services.export`); the snapshot is still used by one thread at a time.
        self._db = sqlite3.connect(
            f"{self.path.resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            self._db.execute("BEGIN")
            self._project = self._load_project()
            self._fill_temp()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """End the read transaction and close the connection (safe to call twice)."""
        if self._db is not None:
            db, self._db = self._db, None
            db.close()

    @property
    def db(self) -> sqlite3.Connection:
        """The open read connection."""
        if self._db is None:
            raise ExportError("the export snapshot is not open")
        return self._db

    @property
    def project(self) -> ProjectRow:
        """The project being exported."""
        if self._project is None:
            raise ExportError("the export snapshot is not open")
        return self._project

    # ------------------------------------------------------------ setup

    def _load_project(self) -> ProjectRow:
        db = self.db
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        self._tables = tables
        if "projects" not in tables:
            raise ExportError(f"{self.path} is not a Labelgram database")
        if "export_secrets" not in tables or "project_life" not in tables:
            raise ExportError(
                f"{self.path} predates exports; open it once with this Labelgram to upgrade it"
            )
        wanted = str(self.wanted)
        row = db.execute(
            "SELECT id, slug, name, question, guide, guide_version, created_at, spec"
            " FROM projects WHERE slug = ? OR (? GLOB '[0-9]*' AND id = CAST(? AS INTEGER))",
            (wanted, wanted, wanted),
        ).fetchone()
        if row is None:
            valid = [r[0] for r in db.execute("SELECT slug FROM projects ORDER BY slug")]
            raise UnknownProject(wanted, valid)
        options = tuple(
            OptionRow(int(r[0]), int(r[1]), str(r[2]), json.loads(r[3]))
            for r in db.execute(
                "SELECT id, idx, key, texts FROM options WHERE project_id = ? ORDER BY idx",
                (row[0],),
            )
        )
        return ProjectRow(
            id=int(row[0]),
            slug=str(row[1]),
            name=str(row[2]),
            question=json.loads(row[3]),
            guide=json.loads(row[4]),
            guide_version=int(row[5]),
            created_at=float(row[6]),
            spec=json.loads(row[7]),
            options=options,
        )

    def _fill_temp(self) -> None:
        """Temp tables of the options and every worker (name, suspended, exam cut-off): the
        queries join them instead of calling back into Python for each label."""
        db, project = self.db, self.project
        secret_row = db.execute(
            "SELECT secret FROM export_secrets WHERE project_id = ?", (project.id,)
        ).fetchone()
        if secret_row is None:
            raise ExportError(f"project {project.slug!r} has no export secret")
        secret = bytes(secret_row[0])
        exam_size = exam_size_of(json.dumps(project.spec))
        db.execute("CREATE TEMP TABLE x_options (id INTEGER PRIMARY KEY, key TEXT, text TEXT)")
        db.executemany(
            "INSERT INTO temp.x_options VALUES (?, ?, ?)",
            [(o.id, o.key, o.text) for o in project.options],
        )
        db.execute(
            "CREATE TEMP TABLE x_workers (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " suspended INTEGER NOT NULL, since REAL NOT NULL)"
        )
        members = {
            int(r[0]): (bool(r[1]), control_since(exam_size, r[2], r[3]))
            for r in db.execute(
                "SELECT worker_id, suspended_at IS NOT NULL, exam_status, exam_passed_at"
                " FROM memberships WHERE project_id = ?",
                (project.id,),
            )
        }
        # Every worker the bot knows (a few thousand at most): cheaper than finding the
        # project's labellers among millions of labels. Not a member: not suspended, no exam.
        # A forgotten worker (`storage.erasure`) is under a negative id, with the pseudonym
        # their labels had kept: the same name in every export, and no Telegram id to show.
        erased: dict[int, str] = {}
        if "erased_pseudonyms" in self._tables:
            erased = {
                int(w): str(name)
                for w, name in db.execute(
                    "SELECT worker_id, pseudonym FROM erased_pseudonyms WHERE project_id = ?",
                    (project.id,),
                )
            }
        rows = []
        for (worker_id,) in db.execute("SELECT id FROM workers"):
            suspended, since = members.get(int(worker_id), (False, 0.0))
            if int(worker_id) in erased:
                name = erased[int(worker_id)]
            elif self.worker_ids:
                name = str(worker_id)
            else:
                name = pseudonym(secret, int(worker_id))
            rows.append((worker_id, name, int(suspended), min(since, 1e308)))
        db.executemany("INSERT INTO temp.x_workers VALUES (?, ?, ?, ?)", rows)

    # ------------------------------------------------------------ streams

    def count_samples(self, status: str = "all") -> int:
        """Samples an export with this --status writes."""
        done = _DONE if status == "done" else ""
        row = self.db.execute(
            f"SELECT COUNT(*) FROM samples AS s WHERE s.project_id = :p{done}",
            {"p": self.project.id},
        ).fetchone()
        return int(row[0]) if row else 0

    def sample_json(
        self, status: str = "all", method: str | None = None
    ) -> Iterator[list[tuple[int, str, str | None, str | None, bytes]]]:
        """Batches of (sample id, kind, media, file_id, the sample as one JSON object in
        UTF-8) in id order."""
        sql = SAMPLE_JSON_SQL.replace("{done}", _DONE if status == "done" else "")
        cur = self.db.execute(sql, {"p": self.project.id, "method": method})
        while batch := cur.fetchmany(_FETCH):
            yield batch

    def sample_json_only(
        self, status: str = "all", method: str | None = None
    ) -> Iterator[tuple[int, bytes]]:
        """`sample_json`'s JSON objects alone: (samples, their lines joined without the last
        newline) per batch; no Python object per sample but the text itself."""
        sql = SAMPLE_JSON_SQL.replace("{done}", _DONE if status == "done" else "").replace(
            "SELECT s.id, s.kind, s.media, s.file_id, CAST(", "SELECT CAST(", 1
        )
        cur = self.db.execute(sql, {"p": self.project.id, "method": method})
        while batch := cur.fetchmany(_FETCH):
            yield len(batch), b"\n".join([row[0] for row in batch])

    def sample_rows(self, status: str = "all") -> Iterator[tuple[Any, ...]]:
        """(sample id, file_id, id, kind, text, media, answer, confidence, n_labels, status,
        decided_by, excluded_reason) rows in id order."""
        sql = SAMPLE_ROW_SQL.replace("{done}", _DONE if status == "done" else "")
        cur = self.db.execute(sql, {"p": self.project.id})
        while batch := cur.fetchmany(_FETCH):
            yield from batch

    def check_labels(self) -> Iterator[tuple[Any, ...]]:
        """(worker, task, label, answered_at, seconds, guide_version): exactly the labels the
        quality check aggregates, in label order."""
        cur = self.db.execute(CHECK_LABELS_SQL, {"p": self.project.id})
        while batch := cur.fetchmany(_FETCH):
            yield from batch

    def known_answers(self) -> Iterator[tuple[str, str, str]]:
        """(task, label, source): the answers the check holds fixed (review, gold, known)."""
        yield from self.db.execute(KNOWN_SQL, {"p": self.project.id})

    def check_arrays(self) -> Iterator[list[tuple[int, int, int, int]]]:
        """Batches of (sample id, worker id, option idx, gold) of the check's labels in sample
        order, for the card's agreement figures (numbers only: a few bytes per label)."""
        cur = self.db.execute(CHECK_ARRAYS_SQL, {"p": self.project.id})
        while batch := cur.fetchmany(100_000):
            yield batch

    # ------------------------------------------------------------ figures for the card

    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """A small query's rows in this snapshot; `:p` is the project's id."""
        return self.db.execute(sql, {"p": self.project.id, **(params or {})}).fetchall()

    def _value(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """The first column of a small query's first row (None without rows)."""
        found = self._rows(sql, params)
        return found[0][0] if found else None

    def last_method(self) -> str | None:
        """The consensus method of the project's last quality check, if any ran."""
        summary = self._value(
            "SELECT summary FROM quality_runs WHERE project_id = :p ORDER BY id DESC LIMIT 1"
        )
        if summary is None:
            return None
        method = json.loads(summary).get("method")
        return str(method) if method else None

    def state_counts(self) -> dict[str, int]:
        """Samples per exported status (done, needs_labels, in_review, control, excluded)."""
        sql = f"SELECT {_STATE}, COUNT(*) FROM samples AS s WHERE s.project_id = :p GROUP BY 1"
        return {str(k): int(n) for k, n in self._rows(sql)}

    def answer_counts(self) -> list[tuple[str | None, str | None, int]]:
        """(answer, how it was decided, samples) over every sample."""
        sql = (
            f"SELECT {_ANSWER}, {_DECIDED}, COUNT(*) FROM samples AS s"
            " LEFT JOIN x_options AS c ON c.id = s.consensus"
            " WHERE s.project_id = :p GROUP BY 1, 2"
        )
        return [(a, d, int(n)) for a, d, n in self._rows(sql)]

    def label_counts(self) -> dict[str, int]:
        """Live labels per option key."""
        sql = (
            "SELECT o.key, COUNT(*) FROM labels AS l JOIN x_options AS o ON o.id = l.option_id"
            " WHERE l.project_id = :p AND l.retracted_at IS NULL GROUP BY 1"
        )
        return {str(k): int(n) for k, n in self._rows(sql)}

    def guide_versions(self) -> list[tuple[int, int, float, float]]:
        """(guide version, labels, first and last answer) of every version labels were made
        under (retracted ones too: they were made under it)."""
        sql = (
            "SELECT guide_version, COUNT(*), MIN(answered_at), MAX(answered_at) FROM labels"
            " WHERE project_id = :p GROUP BY 1 ORDER BY 1"
        )
        return [(int(v), int(n), float(a), float(b)) for v, n, a, b in self._rows(sql)]

    def guide_texts(self) -> list[tuple[int, dict[str, str], float]]:
        """(version, guide per language, since) of every guide the project had (migration
        10 keeps them); only the current one for a database without that table."""
        if "guide_versions" not in self._tables:
            p = self.project
            return [(p.guide_version, p.guide, p.created_at)]
        sql = (
            "SELECT version, guide, created_at FROM guide_versions WHERE project_id = :p"
            " ORDER BY version"
        )
        return [(int(v), json.loads(g), float(at)) for v, g, at in self._rows(sql)]

    def label_figures(self) -> dict[str, int]:
        """Counts of labels by what the check makes of them, and of the people behind them."""
        row = self._rows(
            "SELECT COUNT(*), COALESCE(SUM(l.retracted_at IS NOT NULL), 0),"
            " COALESCE(SUM(l.retracted_at IS NULL AND w.suspended), 0),"
            " COALESCE(SUM(l.retracted_at IS NULL AND s.gold = 1"
            "   AND l.answered_at <= w.since), 0),"
            " COUNT(DISTINCT l.worker_id)"
            " FROM labels AS l JOIN x_workers AS w ON w.id = l.worker_id"
            " JOIN samples AS s ON s.id = l.sample_id WHERE l.project_id = :p"
        )[0]
        members = self._rows(
            "SELECT COUNT(*), COALESCE(SUM(suspended_at IS NOT NULL), 0),"
            " COALESCE(SUM(role = 'reviewer'), 0) FROM memberships WHERE project_id = :p"
        )[0]
        return {
            "labels": int(row[0]),
            "retracted": int(row[1]),
            "suspended_labels": int(row[2]),
            "exam_labels": int(row[3]),
            "workers": int(row[4]),
            "members": int(members[0]),
            "suspended_workers": int(members[1]),
            "reviewers": int(members[2]),
            "reviews": int(self._value("SELECT COUNT(*) FROM reviews WHERE project_id = :p")),
            "reports": int(self._value("SELECT COUNT(*) FROM reports WHERE project_id = :p")),
        }

    def labels_per_sample(self) -> dict[int, int]:
        """Work samples (not control) per number of live labels."""
        sql = (
            "SELECT n_labels, COUNT(*) FROM samples WHERE project_id = :p AND gold = 0"
            " GROUP BY 1 ORDER BY 1"
        )
        return {int(k): int(n) for k, n in self._rows(sql)}

    def collection_dates(self) -> tuple[float | None, float | None]:
        """The first and last label's time (None without labels)."""
        row = self._rows(
            "SELECT MIN(answered_at), MAX(answered_at) FROM labels WHERE project_id = :p"
        )[0]
        return row[0], row[1]

    def confidences(self) -> Iterator[float]:
        """The check's confidence of every sample it decided (not gold, not reviewed)."""
        cur = self.db.execute(
            "SELECT confidence FROM samples WHERE project_id = :p AND gold = 0"
            " AND status != 'reviewed' AND truth IS NULL AND confidence IS NOT NULL",
            {"p": self.project.id},
        )
        while batch := cur.fetchmany(100_000):
            yield from (r[0] for r in batch)

    def gold_truths(self) -> dict[int, str]:
        """Sample id -> the known answer, for gold samples."""
        sql = "SELECT id, truth FROM samples WHERE project_id = :p AND gold = 1"
        return {int(i): str(t) for i, t in self._rows(sql)}

    def imports(self) -> list[tuple[float, str, int, int, int, dict[str, Any]]]:
        """(at, source, rows read, added, dropped, stored report) of each import, oldest first."""
        sql = (
            "SELECT at, source, rows_read, added, dropped, report FROM imports"
            " WHERE project_id = :p ORDER BY at"
        )
        return [
            (float(a), str(s), int(r), int(ad), int(d), json.loads(rep))
            for a, s, r, ad, d, rep in self._rows(sql)
        ]

    def report_reasons(self) -> dict[str, int]:
        """Problem reports per reason."""
        sql = (
            "SELECT reason, COUNT(*) FROM reports WHERE project_id = :p GROUP BY 1 ORDER BY 2 DESC"
        )
        return {str(k): int(n) for k, n in self._rows(sql)}

    def sample_kinds(self) -> list[str]:
        """The kinds of the project's samples (text, photo, ...), sorted."""
        sql = "SELECT DISTINCT kind FROM samples WHERE project_id = :p ORDER BY 1"
        return [str(r[0]) for r in self._rows(sql)]

    def meta_keys(self) -> list[str]:
        """Every meta column kept on the project's samples."""
        sql = (
            "SELECT DISTINCT j.key FROM samples AS s, json_each(s.meta) AS j"
            " WHERE s.project_id = :p AND s.meta IS NOT NULL ORDER BY 1"
        )
        return [str(r[0]) for r in self._rows(sql)]

    def worker_names(self) -> dict[int, str]:
        """Worker id -> the name the export shows."""
        return {int(r[0]): str(r[1]) for r in self.db.execute("SELECT id, name FROM x_workers")}


def finite(value: float | None) -> float | None:
    """None for NaN or None: JSON and YAML have no NaN."""
    return None if value is None or math.isnan(value) else value
