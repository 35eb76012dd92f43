"""Projects: their options, the project being created with its first import, invites and
memberships.

A project and its options are cached per connection: every card and every tap reads them.
They change only through `storage.project_updates` (`labelgram project update`), which drops
the cache, and a bot notices another process's update by the project's revision.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
from pydantic import BaseModel, ConfigDict

from config.project import ProjectSpec
from storage.db import Database, Row
from storage.effects import once, remember
from storage.errors import Conflict, NotFound
from storage.events import append_event
from storage.models import Option, Project, Role

_PROJECT_FIELDS = (
    "id, slug, name, question, guide, guide_version, overlap, assignment_timeout, created_at"
)


def project_cols(alias: str = "") -> str:
    """The columns `project_of` reads, of table `alias` (none: unqualified); the names per
    language live in the stored spec."""
    at = f"{alias}." if alias else ""
    cols = ", ".join(at + c.strip() for c in _PROJECT_FIELDS.split(","))
    return f"{cols}, json_extract({at}spec, '$.names')"


PROJECT_COLS = project_cols()


def project_of(row: sqlite3.Row | Row) -> Project:
    """A `PROJECT_COLS` row as a model."""
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
        names=json.loads(row[9]) if row[9] else {},
    )


def slug_taken(slug: str) -> str:
    """The message for a slug that another project has."""
    return f"a project with slug '{slug}' already exists; set another 'slug'"


async def insert_project(
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
            raise Conflict(slug_taken(spec.slug)) from exc
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
    await append_event(db, "project.created", actor, new_id, {"slug": spec.slug}, now)
    return new_id


# Invites: the role in the code's prefix, and each role's default (days valid, uses): a
# worker link is shared with a crowd; a coordinator's or reviewer's is for one person.
INVITE_PREFIX = {Role.WORKER: "worker", Role.REVIEWER: "reviewer", Role.COORDINATOR: "coord"}
INVITE_DEFAULTS: dict[Role, tuple[float, int]] = {
    Role.WORKER: (30, 0),
    Role.REVIEWER: (7, 1),
    Role.COORDINATOR: (7, 1),
}
ROLE_RANK = {Role.WORKER: 0, Role.REVIEWER: 1, Role.COORDINATOR: 2}
_RANK_SQL = "(CASE {0} WHEN 'coordinator' THEN 2 WHEN 'reviewer' THEN 1 ELSE 0 END)"
INVITE_COLS = "seq, code, project_id, role, created_by, created_at, uses, max_uses, expires_at"


class Invite(BaseModel):
    """An invite link's code and limits."""

    model_config = ConfigDict(frozen=True)

    seq: int
    code: str
    project_id: int
    role: Role
    created_by: int | None
    created_at: float
    uses: int
    max_uses: int | None
    expires_at: float | None


def invite_of(row: Row) -> Invite:
    """An `INVITE_COLS` row as a model."""
    return Invite(**dict(zip(INVITE_COLS.split(", "), row, strict=True)))


class InviteRefused(NotFound):
    """An invite that exists but lets no one (or not this person) in; `why` says which:
    "revoked", "expired", "used_up" or "removed"."""

    def __init__(self, why: str) -> None:
        """Name why the invite was refused."""
        super().__init__(f"this invite link is {why.replace('_', ' ')}; ask for a new one")
        self.why = why


async def _check_invite(
    db: aiosqlite.Connection, row: Row, user_id: int, project_id: int, now: float
) -> None:
    """Refuse (InviteRefused) an invite `row` of `redeem_invite` that must not let this
    user in now."""
    _, _, revoked_at, expires_at, max_uses, uses, created_at = row
    if revoked_at is not None:
        raise InviteRefused("revoked")
    if expires_at is not None and now >= expires_at:
        raise InviteRefused("expired")
    if max_uses is not None and uses >= max_uses:
        raise InviteRefused("used_up")
    async with db.execute(
        "SELECT removed_at FROM removals WHERE worker_id = ? AND project_id = ?",
        (user_id, project_id),
    ) as cur:
        removed = await cur.fetchone()
    if removed is not None and removed[0] >= created_at:
        raise InviteRefused("removed")


class Projects(Database):
    """Projects, options, invites and memberships."""

    def __init__(self, path: Path | str) -> None:
        """See `Database`; the caches start empty."""
        super().__init__(path)
        self._options: dict[int, tuple[Option, ...]] = {}
        self._projects: dict[int, Project] = {}
        self._specs: dict[int, ProjectSpec] = {}

    async def create_project(self, spec: ProjectSpec, *, actor: int | None = None) -> Project:
        """Store a project and its options; the slug must be new."""
        async with self.transaction() as db:
            project_id = await insert_project(db, spec, actor, time.time())
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
        if await self.one("SELECT 1 FROM projects WHERE slug = ?", (spec.slug,)):
            raise Conflict(slug_taken(spec.slug))
        row = await self.one("SELECT COALESCE(MAX(id), 0) + 1 FROM projects")
        assert row is not None
        draft = Project(
            id=int(row[0]),
            slug=spec.slug,
            name=spec.name,
            names=spec.names,
            question=spec.question,
            guide=spec.guide,
            guide_version=1,
            overlap=spec.overlap,
            assignment_timeout=spec.assignment_timeout,
            created_at=time.time(),
        )
        # The import path reads the project through these caches (get_project,
        # project_spec); `draft_spec` tells a draft from a stored project.
        self._projects[draft.id], self._specs[draft.id] = draft, spec
        try:
            yield draft
            if await self.draft_spec(draft.id) is not None:  # no import was published
                async with self.transaction() as db:
                    await insert_project(db, spec, actor, time.time(), project_id=draft.id)
        finally:
            # Stored or not, the next read comes from the database.
            self._projects.pop(draft.id, None)
            self._specs.pop(draft.id, None)
            self._options.pop(draft.id, None)

    async def draft_spec(self, project_id: int) -> ProjectSpec | None:
        """The spec of a `project_draft` not stored yet; None for a stored project."""
        row = await self.one("SELECT slug FROM projects WHERE id = ?", (project_id,))
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
        row = await self.one(f"SELECT {PROJECT_COLS} FROM projects WHERE {where}", (key,))
        if row is None:
            raise NotFound(f"no project '{key}'; `labelgram project list` shows the projects")
        project = project_of(row)
        self._projects[project.id] = project
        return project

    async def project_spec(self, project_id: int) -> ProjectSpec:
        """The project file as it was validated when the project was created or last updated
        (cached; see the module's docstring)."""
        spec = self._specs.get(project_id)
        if spec is None:
            row = await self.one("SELECT spec FROM projects WHERE id = ?", (project_id,))
            if row is None:
                raise NotFound(f"no project {project_id}")
            spec = self._specs[project_id] = ProjectSpec.model_validate_json(row[0])
        return spec

    async def list_projects(self) -> list[Project]:
        """All projects, oldest first."""
        rows = await self.all(f"SELECT {PROJECT_COLS} FROM projects ORDER BY id")
        return [project_of(r) for r in rows]

    async def options(self, project_id: int) -> tuple[Option, ...]:
        """A project's options in button order (cached)."""
        cached = self._options.get(project_id)
        if cached is not None:
            return cached
        rows = await self.all(
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

    # ---------------------------------------------------------------- invites, memberships

    async def create_invite(
        self,
        project_id: int,
        role: Role,
        *,
        actor: int | None = None,
        update_id: int | None = None,
        days: float | None = None,
        uses: int | None = None,
    ) -> str:
        """A new invite code (valid as a t.me deep-link start parameter, its role readable in
        its prefix: `worker-…`, `reviewer-…`, `coord-…`); a replay of the same update gets the
        code the first one made.

        days: how long it stays valid (None: the role's default, `INVITE_DEFAULTS`; 0: for
        ever). uses: how many people may join with it (None: the role's default; 0: any).
        """
        await self.get_project(project_id)
        default_days, default_uses = INVITE_DEFAULTS[role]
        days = default_days if days is None else days
        uses = default_uses if uses is None else uses
        code = f"{INVITE_PREFIX[role]}-{secrets.token_urlsafe(12)}"
        now = time.time()
        async with self.transaction() as db:
            made = await once(db, update_id, "invite")
            if made is not None:
                return str(made)
            await remember(db, update_id, "invite", code, now)
            await db.execute(
                "INSERT INTO invites (code, project_id, role, created_by, created_at,"
                " expires_at, max_uses, seq) VALUES (?, ?, ?, ?, ?, ?, ?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM invites))",
                (
                    code,
                    project_id,
                    role.value,
                    actor,
                    now,
                    now + days * 86400 if days else None,
                    uses or None,
                ),
            )
            data = {"role": role.value, "days": days, "uses": uses}
            await append_event(db, "invite.created", actor, project_id, data, now)
        return code

    async def invites(self, project_ids: list[int], now: float | None = None) -> list[Invite]:
        """The invites of these projects that still let someone in, newest first."""
        if not project_ids:
            return []
        now = time.time() if now is None else now
        marks = ",".join("?" * len(project_ids))
        rows = await self.all(
            f"SELECT {INVITE_COLS} FROM invites WHERE project_id IN ({marks})"
            " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"
            " AND (max_uses IS NULL OR uses < max_uses) ORDER BY seq DESC",
            (*project_ids, now),
        )
        return [invite_of(r) for r in rows]

    async def invite_by_code(self, code: str) -> Invite | None:
        """An invite by its code."""
        row = await self.one(f"SELECT {INVITE_COLS} FROM invites WHERE code = ?", (code,))
        return None if row is None else invite_of(row)

    async def invite_by_seq(self, seq: int) -> Invite | None:
        """An invite by its number (the one its /invites button carries)."""
        row = await self.one(f"SELECT {INVITE_COLS} FROM invites WHERE seq = ?", (seq,))
        return None if row is None else invite_of(row)

    async def revoke_invite(self, seq: int, *, actor: int | None = None) -> bool:
        """Stop an invite letting anyone in (False: it already was revoked, or is unknown)."""
        now = time.time()
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE invites SET revoked_at = ? WHERE seq = ? AND revoked_at IS NULL",
                (now, seq),
            )
            if cur.rowcount == 0:
                return False
            async with db.execute(
                "SELECT project_id, role FROM invites WHERE seq = ?", (seq,)
            ) as c:
                row = await c.fetchone()
            assert row is not None
            await append_event(db, "invite.revoked", actor, row[0], {"role": row[1]}, now)
        return True

    async def redeem_invite(
        self, code: str, user_id: int, *, update_id: int | None = None
    ) -> tuple[Project, Role]:
        """Join the invite's project. A link never lowers a role (a reviewer or coordinator
        who opens a worker link keeps theirs); a member whose role the link would not raise
        just switches to the project, and uses nothing of the link's limit.

        Raises NotFound for an unknown code, InviteRefused (a NotFound) for a revoked,
        expired or used-up one, or for a worker removed from the project after it was made.
        With `update_id`, a replay of the same /start counts the use once.
        """
        now = time.time()
        async with self.transaction() as db:
            async with db.execute(
                "SELECT project_id, role, revoked_at, expires_at, max_uses, uses, created_at"
                " FROM invites WHERE code = ?",
                (code,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise NotFound("this invite link is not valid; ask your coordinator for a new one")
            project_id, role = int(row[0]), Role(row[1])
            async with db.execute(
                "SELECT role FROM memberships WHERE worker_id = ? AND project_id = ?",
                (user_id, project_id),
            ) as cur:
                held = await cur.fetchone()
            raises = held is None or ROLE_RANK[Role(held[0])] < ROLE_RANK[role]
            first = await once(db, update_id, "redeem") is None
            if first and raises:
                await _check_invite(db, tuple(row), user_id, project_id, now)
                await remember(db, update_id, "redeem", code, now)
                await db.execute("UPDATE invites SET uses = uses + 1 WHERE code = ?", (code,))
            await db.execute(
                "INSERT INTO memberships (worker_id, project_id, role, joined_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (worker_id, project_id) DO UPDATE SET"
                f" role = CASE WHEN {_RANK_SQL.format('role')}"
                f" >= {_RANK_SQL.format('excluded.role')} THEN role ELSE excluded.role END",
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
            if first and raises:
                await append_event(db, "member.joined", user_id, project_id, {"role": got[0]}, now)
        return await self.get_project(project_id), Role(got[0])

    async def role_of(self, user_id: int, project_id: int) -> Role | None:
        """The user's role in the project, or None if not a member."""
        row = await self.one(
            "SELECT role FROM memberships WHERE worker_id = ? AND project_id = ?",
            (user_id, project_id),
        )
        return Role(row[0]) if row else None

    async def projects_of(self, user_id: int, role: Role | None = None) -> list[Project]:
        """Projects the user belongs to (optionally with a given role)."""
        sql = (
            f"SELECT {project_cols('p')}"
            " FROM projects p JOIN memberships m ON m.project_id = p.id WHERE m.worker_id = ?"
        )
        params: list[Any] = [user_id]
        if role is not None:
            sql += " AND m.role = ?"
            params.append(role.value)
        return [project_of(r) for r in await self.all(sql + " ORDER BY p.id", params)]
