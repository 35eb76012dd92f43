"""Changing a project after it was created: `labelgram project update FILE`.

A changed project file is applied in one transaction: question, guide (a new guide version:
every label records the version it was made under), option texts, new options, the order of
the options, settings. What would corrupt labels already given is refused, naming the field:
removing or renaming an option id that labels, gold answers, consensus or reviews use. A new
overlap applies to the samples not decided yet. Options that move (or an unused one removed)
change the buttons' numbers, so the cards open at that moment are released: their old buttons
are refused and the workers get fresh cards.

The bot caches projects, specs and options; each update bumps `projects.revision`, and a
running bot drops what it cached of a project whose revision changed (`refresh_projects`, on
its heartbeat), so an update made from the command line reaches it within seconds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from config.project import ProjectSpec
from storage.assignments import release_open
from storage.db import fetch_all, fetch_one
from storage.errors import Conflict, NotFound
from storage.events import append_event
from storage.models import Project
from storage.projects import Projects

# What uses an option: labels (live or taken back), known answers (gold or imported truth),
# answers a check decided, reviews (a reviewer's answer stays on record after its sample's
# labels are cleared; each row points at the option).
_USES_SQL = """
SELECT o.key,
       (SELECT COUNT(*) FROM labels AS l WHERE l.option_id = o.id),
       (SELECT COUNT(*) FROM samples AS s WHERE s.project_id = o.project_id AND s.truth = o.key),
       (SELECT COUNT(*) FROM samples AS s WHERE s.consensus = o.id),
       (SELECT COUNT(*) FROM reviews AS r WHERE r.option_id = o.id)
FROM options AS o WHERE o.project_id = ?
"""
_USES = ("labels", "known answers", "decided answers", "reviews")


@dataclass(frozen=True)
class ProjectUpdate:
    """What `update_project` changed."""

    project: Project
    changed: list[str] = field(default_factory=list)  # the project file's fields, in order
    guide_version: int | None = None  # the new guide version, if the guide changed
    options_added: list[str] = field(default_factory=list)
    options_removed: list[str] = field(default_factory=list)
    released: int = 0  # open cards released because the buttons' numbers changed
    retargeted: int = 0  # samples not decided yet that took the new overlap


class ProjectUpdates(Projects):
    """Applying a changed project file; noticing another process's updates."""

    def __init__(self, path: Path | str) -> None:
        """See `Database`; no revision seen yet."""
        super().__init__(path)
        self._revisions: dict[int, int] = {}

    async def update_project(
        self, spec: ProjectSpec, *, actor: int | None = None, now: float | None = None
    ) -> ProjectUpdate:
        """Apply `spec` to the project with its slug (NotFound if there is none; Conflict,
        naming the field, for a change that would corrupt existing labels)."""
        now = time.time() if now is None else now
        async with self.transaction() as db:
            row = await fetch_one(
                db, "SELECT id, spec, guide_version FROM projects WHERE slug = ?", (spec.slug,)
            )
            if row is None:
                raise NotFound(
                    f"no project with slug '{spec.slug}'; `labelgram project list` shows the"
                    " projects, `labelgram project create FILE` makes a new one"
                )
            project_id, version = int(row[0]), int(row[2])
            old = ProjectSpec.model_validate_json(row[1])
            changed = _changed_fields(old, spec)
            if not changed:
                return ProjectUpdate(await self.get_project(project_id))
            update = await _apply(db, project_id, version, old, spec, changed, actor, now)
        self.forget_project(project_id)
        return ProjectUpdate(await self.get_project(project_id), **update)

    def forget_project(self, project_id: int) -> None:
        """Drop what this process cached of a project (it changed)."""
        self._projects.pop(project_id, None)
        self._specs.pop(project_id, None)
        self._options.pop(project_id, None)

    async def refresh_projects(self) -> list[int]:
        """Drop the cached projects that another process updated since the last call; their
        ids (the first call only records the revisions)."""
        rows = await self.all("SELECT id, revision FROM projects")
        seen = self._revisions
        stale = [int(pid) for pid, rev in rows if int(pid) in seen and seen[int(pid)] != rev]
        for project_id in stale:
            self.forget_project(project_id)
        self._revisions = {int(pid): int(rev) for pid, rev in rows}
        return stale

    async def guide_versions(self, project_id: int) -> list[tuple[int, dict[str, str], float]]:
        """Every guide the project had: (version, text per language, since), oldest first."""
        rows = await self.all(
            "SELECT version, guide, created_at FROM guide_versions WHERE project_id = ?"
            " ORDER BY version",
            (project_id,),
        )
        return [(int(r[0]), json.loads(r[1]), float(r[2])) for r in rows]


def _changed_fields(old: ProjectSpec, new: ProjectSpec) -> list[str]:
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    return [name for name in after if before.get(name) != after[name]]


async def _apply(
    db: aiosqlite.Connection,
    project_id: int,
    version: int,
    old: ProjectSpec,
    spec: ProjectSpec,
    changed: list[str],
    actor: int | None,
    now: float,
) -> dict[str, Any]:
    """The update's writes, in the caller's transaction; ProjectUpdate's fields."""
    added, removed, released = await _options(db, project_id, old, spec, now)
    new_version = None
    if "guide" in changed:
        new_version = version + 1
        await db.execute(
            "INSERT INTO guide_versions (project_id, version, guide, created_at)"
            " VALUES (?, ?, ?, ?)",
            (project_id, new_version, json.dumps(spec.guide, ensure_ascii=False), now),
        )
    retargeted = 0
    if spec.overlap != old.overlap:
        # Samples not decided yet (and never raised by the dynamic overlap) take the new
        # overlap; decided ones keep the labels that decided them.
        cur = await db.execute(
            "UPDATE samples SET target = :new, need = :new - n_labels - n_open"
            " WHERE project_id = :p AND gold = 0 AND status = 'open' AND target = :old",
            {"new": spec.overlap, "old": old.overlap, "p": project_id},
        )
        retargeted = cur.rowcount
    await db.execute(
        "UPDATE projects SET name = ?, question = ?, guide = ?, guide_version = ?, overlap = ?,"
        " assignment_timeout = ?, spec = ?, revision = revision + 1 WHERE id = ?",
        (
            spec.name,
            json.dumps(spec.question, ensure_ascii=False),
            json.dumps(spec.guide, ensure_ascii=False),
            new_version or version,
            spec.overlap,
            spec.assignment_timeout,
            spec.model_dump_json(),
            project_id,
        ),
    )
    # The next quality check runs with the new settings.
    await db.execute("UPDATE project_changes SET n = n + 1 WHERE project_id = ?", (project_id,))
    data: dict[str, Any] = {"changed": changed}
    if new_version is not None:
        data["guide_version"] = new_version
    if added or removed:
        data |= {"options_added": added, "options_removed": removed}
    await append_event(db, "project.updated", actor, project_id, data, now)
    return {
        "changed": changed,
        "guide_version": new_version,
        "options_added": added,
        "options_removed": removed,
        "released": released,
        "retargeted": retargeted,
    }


async def _options(
    db: aiosqlite.Connection, project_id: int, old: ProjectSpec, spec: ProjectSpec, now: float
) -> tuple[list[str], list[str], int]:
    """Apply the options' changes: (added ids, removed ids, open cards released)."""
    before = [o.id for o in old.options]
    after = [o.id for o in spec.options]
    removed = [key for key in before if key not in after]
    added = [key for key in after if key not in before]
    if removed:
        uses = {str(r[0]): r[1:] for r in await fetch_all(db, _USES_SQL, (project_id,))}
        used = [key for key in removed if any(uses.get(key, ()))]
        if used:
            key = used[0]
            renamed = f" (renamed to '{added[0]}'?)" if len(added) == len(removed) == 1 else ""
            counts = ", ".join(
                f"{n} {what}" for n, what in zip(uses[key], _USES, strict=True) if n
            )
            raise Conflict(
                f"options: option id '{key}'{renamed} is in use ({counts}); removing or"
                " renaming it would corrupt them. Keep the id (change its text instead), or"
                " create a new project"
            )
    kept = [key for key in before if key in after]
    moved = removed or kept != [key for key in after if key in before]
    if moved:
        # Buttons carry an option's number: move every option out of the way, then in place.
        await db.execute("UPDATE options SET idx = idx + 1000 WHERE project_id = ?", (project_id,))
    for key in removed:
        await db.execute("DELETE FROM options WHERE project_id = ? AND key = ?", (project_id, key))
    for idx, option in enumerate(spec.options):
        texts = json.dumps(option.text, ensure_ascii=False)
        if option.id in before:
            await db.execute(
                "UPDATE options SET idx = ?, texts = ? WHERE project_id = ? AND key = ?",
                (idx, texts, project_id, option.id),
            )
        else:
            await db.execute(
                "INSERT INTO options (project_id, idx, key, texts) VALUES (?, ?, ?, ?)",
                (project_id, idx, option.id, texts),
            )
    released = 0
    if moved:
        # Cards on screen show the old numbers: released, so their buttons are refused and
        # their workers get fresh cards.
        released = await release_open(db, now, project=project_id)
    return added, removed, released
